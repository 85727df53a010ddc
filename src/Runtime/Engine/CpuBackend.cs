using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using OptGen.Kernels;

namespace OptGen.Engine;

/// <summary>
/// The CPU SIMD backend: the norm and the update run as pieces (<see cref="StepPlan.Pieces"/>) handed to the
/// calling thread and pool workers by <see cref="ParallelUpdate.RunPieces{TBody}"/>; a single tensor without
/// stochastic rounding is one kernel call that <see cref="UpdateDriver"/> splits into chunks itself (the plain
/// step's path). Pieces and chunks start on 16-element boundaries, so results are bit-identical for every thread
/// count. Allocates nothing.
/// </summary>
/// <typeparam name="TParameter">How parameters are stored.</typeparam>
/// <typeparam name="TGradient">How gradients are stored.</typeparam>
/// <typeparam name="TState">How the state is stored.</typeparam>
internal readonly partial struct CpuBackend<TParameter, TGradient, TState> : IStepBackend
    where TParameter : struct, IElementCodec
    where TGradient : struct, IElementCodec
    where TState : struct, IElementCodec
{
    private readonly Optimizer _owner;
    private readonly Slot[] _slots;
    private readonly double[] _partials;

    /// <summary>
    /// A backend over the buffers in <paramref name="slots"/> (one per tensor, pinned by the caller for the step);
    /// <paramref name="partials"/> is scratch for the norm pass, <see cref="StepPlan.NormPartialsLength"/> long.
    /// </summary>
    internal CpuBackend(Optimizer owner, Slot[] slots, double[] partials)
    {
        _owner = owner;
        _slots = slots;
        _partials = partials;
    }

    /// <inheritdoc/>
    public GradientSummary Summarize(StepPlan plan)
    {
        Piece[] pieces = plan.Pieces;
        ParallelUpdate.RunPieces(new NormBody(_slots, pieces, _partials), pieces.Length, plan.Threads);

        // Fixed blocks summed in a fixed order: the norm does not depend on the number of threads (nor the maximum,
        // which is exact and ignores NaN: LargestMagnitude).
        double sum = 0;
        float max = 0;
        for (int k = 0; k < pieces.Length; k++)
        {
            sum += _partials[k];
            max = LargestMagnitude.Combine(max, (float)_partials[pieces.Length + k]);
        }

        return new GradientSummary(sum, max);
    }

    /// <inheritdoc/>
    public unsafe void Update(StepPlan plan)
    {
        if (_owner.Blockwise is { } blockwise && !_owner.UpdatesInPasses)
        {
            ParallelUpdate.RunPieces(new BlockwiseUpdateBody(_owner, plan, _slots, blockwise), plan.Pieces.Length, plan.Threads);
            return;
        }

        StateStorage state = _owner.StateStorage;
        nint stateBase = (nint)Unsafe.AsPointer(ref state.Base);
        if (_owner.UpdatesInPasses)
        {
            // A rule with reductions (Optimizer.Passes.cs) runs its own passes over the same buffers.
            _owner.UpdateInPasses<TParameter, TGradient, TState>(plan, _slots, stateBase, (nuint)state.Stride);
            return;
        }

        if (plan.Layout.TensorCount == 1 && typeof(TParameter) != typeof(StochasticBFloat16Codec))
        {
            // One kernel call over the whole tensor: UpdateDriver splits it into chunks on up to the plan's limit.
            Slot slot = _slots[0];
            var arguments = new KernelArguments
            {
                Hyperparameters = plan.Hyperparameters(0),
                HostState = plan.HostState(0),
                Step = plan.Step,
                GradientScale = plan.GradientScale,
                BatchSize = plan.BatchSize,
                InputOffset = slot.InputOffset,
                Parameters = ref *(byte*)slot.Parameters,
                Gradients = ref *(byte*)slot.Gradients,
                State = ref *(byte*)stateBase,
                StateStride = (nuint)state.Stride,
                ElementOffset = (ulong)_owner.StateOriginOf(0),
                Length = (nuint)plan.Layout.LengthOf(0),
                MaxDegreeOfParallelism = plan.MaxDegreeOfParallelism,
            };
            _owner.RunKernelOn<TParameter, TGradient, TState>(in arguments);
            return;
        }

        ParallelUpdate.RunPieces(new UpdateBody(_owner, plan, _slots, stateBase, (nuint)state.Stride), plan.Pieces.Length, plan.Threads);
    }

    /// <summary>
    /// Σ gᵢ² in double and max |gᵢ|. Each square of a float32 is exact in double; lane j of the 16 accumulators sums
    /// the elements i ≡ j (mod 16) in order, and the lanes are added in a fixed order, so the result depends only on
    /// the data. The maximum is exact, the largest non-NaN |gᵢ| (<see cref="LargestMagnitude"/>; the sum reports a NaN).
    /// </summary>
    internal static GradientSummary Summarize(ref byte g, int n)
    {
        Vector256<double> a0 = Vector256<double>.Zero, a1 = a0, a2 = a0, a3 = a0;
        Vector256<float> m0 = Vector256<float>.Zero, m1 = m0;
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            Vector256<float> x0 = TGradient.Load256(ref g, (nuint)i), x1 = TGradient.Load256(ref g, (nuint)i + 8);

            // One vmaxps per half on x86, each into its own running maximum (never NaN, so every NaN candidate is dropped).
            m0 = LargestMagnitude.Combine(m0, Vector256.Abs(x0));
            m1 = LargestMagnitude.Combine(m1, Vector256.Abs(x1));
            (Vector256<double> lo0, Vector256<double> hi0) = Vector256.Widen(x0);
            (Vector256<double> lo1, Vector256<double> hi1) = Vector256.Widen(x1);
            a0 += lo0 * lo0;
            a1 += hi0 * hi0;
            a2 += lo1 * lo1;
            a3 += hi1 * hi1;
        }

        double tail = 0;
        float max = 0;
        for (; i < n; i++)
        {
            float x = TGradient.Load(ref g, (nuint)i);
            tail += (double)x * x;
            max = LargestMagnitude.Combine(max, Math.Abs(x));
        }

        Vector256<float> m = LargestMagnitude.Combine(m0, m1);
        for (int lane = 0; lane < Vector256<float>.Count; lane++)
        {
            max = LargestMagnitude.Combine(max, m.GetElement(lane));
        }

        Vector256<double> sum = (a0 + a1) + (a2 + a3);
        return new GradientSummary(((sum.GetElement(0) + sum.GetElement(1)) + (sum.GetElement(2) + sum.GetElement(3))) + tail, max);
    }

    /// <summary>
    /// One piece of the norm pass: its Σ g² and max |g| into its own partials. A non-finite per-example square (the
    /// rule's second input, stored like the gradients: g² overflows float16 long before g does) makes the partial sum
    /// NaN, so the step counts as non-finite as with a non-finite gradient (skipped with
    /// <see cref="StepOptions.SkipNonFinite"/>) instead of writing ∞ into the state for good.
    /// </summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly unsafe struct NormBody(Slot[] slots, Piece[] pieces, double[] partials) : IPieceBody
    {
        public void Run(int piece)
        {
            Piece p = pieces[piece];
            Slot slot = slots[p.Tensor];
            GradientSummary summary = Summarize(ref *(byte*)(slot.Gradients + ((nint)p.Start * TGradient.ElementSize)), p.Length);
            bool squaresFinite = slot.Inputs == 0 || double.IsFinite(Summarize(ref *(byte*)(slot.Inputs + ((nint)p.Start * TGradient.ElementSize)), p.Length).SumOfSquares);
            partials[piece] = squaresFinite ? summary.SumOfSquares : double.NaN;
            partials[pieces.Length + piece] = summary.MaxMagnitude;
        }
    }

    /// <summary>One piece of the update: the generated kernel over the piece with its group's values, on this thread.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly unsafe struct UpdateBody(Optimizer owner, StepPlan plan, Slot[] slots, nint state, nuint stride) : IPieceBody
    {
        public void Run(int piece)
        {
            Piece p = plan.Pieces[piece];
            Slot slot = slots[p.Tensor];
            if (typeof(TParameter) == typeof(StochasticBFloat16Codec))
            {
                StochasticRounding.SetSeed(plan.Options.RoundingSeed, plan.Step, owner.ArenaOrigin + plan.Layout.ArenaOffsetOf(p.Tensor) + p.Start);
            }

            nint element = plan.Layout.StateOffsetOf(p.Tensor) + p.Start;
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
                State = ref *(byte*)(state + (element * TState.ElementSize)),
                StateStride = stride,
                ElementOffset = (ulong)(owner.StateOriginOf(p.Tensor) + p.Start),
                Length = (nuint)p.Length,
                MaxDegreeOfParallelism = 1,
            };
            owner.RunKernelOn<TParameter, TGradient, TState>(in arguments);
        }
    }
}

/// <summary>One tensor's parameter and gradient buffers for one step: addresses pinned by the adapter.</summary>
/// <param name="Parameters">The first parameter element.</param>
/// <param name="Gradients">The first gradient element.</param>
/// <param name="Inputs">The first element of the per-element input beside the gradients (per-example squares), or 0.</param>
[StructLayout(LayoutKind.Auto)]
internal readonly record struct Slot(nint Parameters, nint Gradients, nint Inputs = 0)
{
    /// <summary>The byte distance from the gradients to the per-element input (<see cref="KernelArguments.InputOffset"/>), or 0 without one.</summary>
    public nint InputOffset => Inputs == 0 ? 0 : Inputs - Gradients;
}
