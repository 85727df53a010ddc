using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen.Engine;

/// <content>The update over blockwise-quantized or per-group state (<see cref="BlockwiseState"/>).</content>
internal readonly partial struct CpuBackend<TParameter, TGradient, TState>
{
    /// <summary>
    /// One piece of the update with per-tensor state: a quantized tensor's piece runs the fused block driver
    /// (<see cref="BlockwiseDriver"/>) on its codes and absmax, a float32 tensor's piece the plain kernel on its
    /// float32 state, a bfloat16 tensor's piece (a bfloat16 group) the plain kernel with the bfloat16 state codec.
    /// Pieces are 16384 elements from each tensor's start, a multiple of both block lengths (256 and 128), so no
    /// block is shared by two pieces or two threads.
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly unsafe struct BlockwiseUpdateBody(Optimizer owner, StepPlan plan, Slot[] slots, BlockwiseState state) : IPieceBody
    {
        public void Run(int piece)
        {
            Piece p = plan.Pieces[piece];
            Slot slot = slots[p.Tensor];
            if (typeof(TParameter) == typeof(StochasticBFloat16Codec))
            {
                StochasticRounding.SetSeed(plan.Options.RoundingSeed, plan.Step, owner.ArenaOrigin + plan.Layout.ArenaOffsetOf(p.Tensor) + p.Start);
            }

            int bits = state.BitsOf(p.Tensor);
            bool quantized = bits is 8 or 4;
            StateStorage values = bits == 16 ? state.Narrow : state.Small;
            nint element = quantized ? 0 : state.FloatOffsetOf(p.Tensor) + p.Start;
            var arguments = new KernelArguments
            {
                Hyperparameters = plan.Hyperparameters(p.Group),
                HostState = plan.HostState(p.Group),
                Step = plan.Step,
                GradientScale = plan.GradientScale,
                BatchSize = plan.BatchSize,
                InputOffset = slot.InputOffset,
                Parameters = ref *(byte*)(slot.Parameters + ((nint)p.Start * TParameter.ElementSize)),
                Gradients = ref *(byte*)(slot.Gradients + ((nint)p.Start * TGradient.ElementSize)),
                State = ref values.Count == 0 || values.Length == 0 ? ref *(byte*)null : ref *((byte*)Unsafe.AsPointer(ref values.Base) + (element * values.ElementSize)),
                StateStride = (nuint)values.Stride,
                ElementOffset = (ulong)(owner.StateOriginOf(p.Tensor) + p.Start),
                Length = (nuint)p.Length,
                MaxDegreeOfParallelism = 1,
                Blockwise = quantized ? state.ArgumentsFor(p.Tensor, p.Start) : default,
            };

            if (bits == 16)
            {
                owner.RunKernelOn<TParameter, TGradient, BFloat16Codec>(in arguments);
            }
            else
            {
                owner.RunKernelOn<TParameter, TGradient, Float32Codec>(in arguments);
            }
        }
    }
}
