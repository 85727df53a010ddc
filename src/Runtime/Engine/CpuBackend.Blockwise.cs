using System.Runtime.InteropServices;
using OptGen.Kernels;

namespace OptGen.Engine;

/// <content>The update over blockwise-quantized state (<see cref="BlockwiseState"/>).</content>
internal readonly partial struct CpuBackend<TParameter, TGradient, TState>
{
    /// <summary>
    /// One piece of the update with blockwise state: a quantized tensor's piece runs the fused block driver
    /// (<see cref="BlockwiseDriver"/>) on its codes and absmax, a float32 tensor's piece the plain kernel on its
    /// float32 state. Pieces are 16384 elements from each tensor's start, a multiple of both block lengths (256 and
    /// 128), so no block is shared by two pieces or two threads.
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

            StateStorage small = state.Small;
            bool quantized = state.BitsOf(p.Tensor) != 0;
            nint floatElement = quantized ? 0 : state.FloatOffsetOf(p.Tensor) + p.Start;
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
                State = ref small.Count == 0 || small.Length == 0 ? ref *(byte*)null : ref *((byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref small.Base) + (floatElement * sizeof(float))),
                StateStride = (nuint)small.Stride,
                ElementOffset = (ulong)(owner.StateOriginOf(p.Tensor) + p.Start),
                Length = (nuint)p.Length,
                MaxDegreeOfParallelism = 1,
                Blockwise = quantized ? state.ArgumentsFor(p.Tensor, p.Start) : default,
            };
            owner.RunKernelOn<TParameter, TGradient, Float32Codec>(in arguments);
        }
    }
}
