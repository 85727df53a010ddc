using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// Adam-mini (Zhang et al., 2024): one second moment per block of consecutive elements inside each tensor,
/// v_b ← β₂v_b + (1 − β₂)·mean over the block of g², m per element as Adam, decoupled decay
/// p ← p(1 − ηλ), then p ← p − η·(m/(1 − β₁ᵗ)) / (√(v_b/(1 − β₂ᵗ)) + ε).
/// Defaults: η = 1e-3, β = (0.9, 0.999), ε = 1e-8, λ = 0, <see cref="BlockSize"/> = 0 (one block per row).
/// </summary>
/// <remarks>
/// <para>Blocks are <see cref="BlockSize"/> consecutive elements of a tensor (the last may be shorter); 0 makes each
/// row (the last dimension of the tensor's shape, the whole tensor for a vector) one block.</para>
/// <para>Two passes per step: (1) each block's mean of g² into v_b (reads g); (2) m and p (reads p, g, m; writes p,
/// m): 24 bytes per element and step (float32), plus v_b.</para>
/// <para>State: <see cref="FirstMoment"/> per element; <see cref="BlockSecondMoment"/> one v_b per block, tensor
/// after tensor (⌈n/B⌉ for a tensor of n): 4 bytes per parameter plus 4 per block with float32 state. Changing
/// <see cref="BlockSize"/> reshapes v at the next step (or Reset, or SaveCheckpoint): a tensor whose block count
/// changes starts its v_b again from 0.</para>
/// <para>With 8-bit or 4-bit blockwise state (<see cref="Optimizer.ChangeStatePrecision(StatePrecision)"/>) m is
/// quantized (staged in pass 2, the only pass that touches it, and requantized once per step) and v stays float32:
/// 1.02 bytes per parameter at 8 bits, 0.54 at 4, for one v per row of 1024 (docs/training.md).</para>
/// </remarks>
public sealed class AdamMini : MultiPassOptimizer
{
    private static readonly OptimizerDescriptor RuleDescriptor = new(
        name: "Adam-mini",
        ruleId: "reduction.adam_mini.v1",
        hyperparameters:
        [
            new("LearningRate", "η", 1e-3, HyperparameterRange.NonNegative),
            new("Beta1", "β₁", 0.9, HyperparameterRange.UnitInterval),
            new("Beta2", "β₂", 0.999, HyperparameterRange.UnitInterval),
            new("Epsilon", "ε", 1e-8, HyperparameterRange.Positive),
            new("WeightDecay", "λ", 0.0, HyperparameterRange.NonNegative),
            new("BlockSize", "B", 0, HyperparameterRange.Count),
        ],
        states: [new("FirstMoment", "m"), new("BlockSecondMoment", "v")],
        bytesReadPerElement: 16,
        bytesWrittenPerElement: 8);

    private static readonly IReadOnlyList<PassTraffic> RulePasses = PassTraffic.Checked(
        RuleDescriptor,
        new("v_b ← β₂v_b + (1 − β₂)·mean of g² per block", ["g"], []), new("m per element; p ← p(1 − ηλ) − η·m̂/(√v̂_b + ε)", ["p", "g", "m"], ["p", "m"]));

    private Piece[] _units = [];
    private Piece[] _updateUnits = [];
    private int[] _blockOf = [];
    private int[] _granuleOf = [];
    private Factors[] _factors = [];

    /// <summary>Creates Adam-mini for one vector tensor of <paramref name="length"/> parameters.</summary>
    public AdamMini(int length)
        : this(ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates Adam-mini for the tensors (with their shapes) and groups of <paramref name="layout"/>.</summary>
    public AdamMini(ParameterLayout layout)
        : base(RuleDescriptor, layout, RulePasses)
    {
    }

    /// <summary>The step size η.</summary>
    public double LearningRate { get => GetHyperparameter(0); set => SetHyperparameter(0, value); }

    /// <summary>β₁, the first moment's decay.</summary>
    public double Beta1 { get => GetHyperparameter(1); set => SetHyperparameter(1, value); }

    /// <summary>β₂, the block second moment's decay.</summary>
    public double Beta2 { get => GetHyperparameter(2); set => SetHyperparameter(2, value); }

    /// <summary>ε, added to √v̂.</summary>
    public double Epsilon { get => GetHyperparameter(3); set => SetHyperparameter(3, value); }

    /// <summary>λ, the decoupled weight decay.</summary>
    public double WeightDecay { get => GetHyperparameter(4); set => SetHyperparameter(4, value); }

    /// <summary>Elements per block, a whole number ≥ 0; 0: one block per row (the last dimension).</summary>
    public double BlockSize { get => GetHyperparameter(5); set => SetHyperparameter(5, value); }

    /// <summary>The first moment m, one value per parameter.</summary>
    public ReadOnlySpan<float> FirstMoment => GetState(0);

    /// <summary>The per-block second moments, one per block, tensor after tensor.</summary>
    public ReadOnlySpan<float> BlockSecondMoment => GetState(1);

    /// <inheritdoc/>
    private protected override bool IsCompact(int plane) => plane == 1;

    /// <inheritdoc/>
    private protected override Piece[] PassUnits => _units;

    /// <inheritdoc/>
    private protected override Piece[] UnitsOf(int pass) => pass == 0 ? _units : _updateUnits;

    /// <inheritdoc/>
    private protected override int StateLengthOf(int plane, int tensor, ReadOnlySpan<double> hyperparameters)
    {
        int length = Layout.LengthOf(tensor);
        if (plane == 0)
        {
            return length;
        }

        int block = BlockLengthOf(tensor, hyperparameters[5]);
        return (int)((length + (long)block - 1) / block);
    }

    /// <inheritdoc/>
    protected override void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale)
    {
        double block = hyperparameters[5];
        if (block != Math.Floor(block) || block > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(BlockSize), block, "BlockSize must be a whole number of elements (0: one block per row).");
        }

        StepScalars.RequireFiniteNonzero(1 - Math.Pow(hyperparameters[1], step), "Bc1", "1 − β₁ᵗ", step);
        StepScalars.RequireFiniteNonzero(1 - Math.Pow(hyperparameters[2], step), "Bc2", "1 − β₂ᵗ", step);
        StepScalars.RequireFinite(hyperparameters[0] / (1 - Math.Pow(hyperparameters[1], step)), "StepSize", "η/(1 − β₁ᵗ)", step);
        StepScalars.RequireFinite(gradientScale, "GradientScale", "gradientScale", step);
    }

    /// <summary>The block length of tensor <paramref name="tensor"/> in a group whose BlockSize is <paramref name="blockSize"/>.</summary>
    internal int BlockLengthOf(int tensor, double blockSize) =>
        blockSize >= 1 ? (int)Math.Min(blockSize, int.MaxValue) : Math.Max(1, Layout.MatrixShapeOf(tensor).Columns);

    private protected override void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
    {
        // Pass 1's units are whole blocks (a block's Σg² is one unit's, in SquareLanes' order). Pass 2's are the same
        // where m is float32 or bfloat16; where m is quantized (the pass stages it) they are whole blocks of the codec,
        // about a piece each, and may cut Adam-mini blocks: pass 2 reads v_b per element, so no unit needs whole
        // blocks of both (lcm(B, 256) elements is the whole tensor for B = 65521, and each thread would stage it).
        // They change only when a group's BlockSize or the state's precision does.
        if (_blockOf.Length != Layout.TensorCount)
        {
            _blockOf = new int[Layout.TensorCount];
            _granuleOf = new int[Layout.TensorCount];
        }

        bool changed = _units.Length == 0 && Layout.TotalLength > 0;
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            int block = BlockLengthOf(j, plan.Hyperparameters(Layout.GroupOf(j))[5]);
            int granule = StagingGranule(j);
            changed |= _blockOf[j] != block || _granuleOf[j] != granule;
            _blockOf[j] = block;
            _granuleOf[j] = granule;
        }

        if (changed)
        {
            int[] blocks = _blockOf, granules = _granuleOf;
            _units = CutUnits(Layout, j => blocks[j]);
            _updateUnits = CutUnits(Layout, j => granules[j] > 1 ? granules[j] : blocks[j]);
        }

        if (_factors.Length != Layout.GroupCount)
        {
            _factors = new Factors[Layout.GroupCount];
        }

        for (int k = 0; k < _factors.Length; k++)
        {
            _factors[k] = Factors.Of(plan.Hyperparameters(k), plan.Step);
        }

        RunUnits<TParameter, TGradient, TState>(0, _units.Length);
        RunUnits<TParameter, TGradient, TState>(1, _updateUnits.Length);
    }

    /// <summary>
    /// The float32 factors of one group's update pass: decay = 1 − ηλ, StepSize = η/(1 − β₁ᵗ), SqrtBc2 = √(1 − β₂ᵗ)
    /// (the denominator is √v_b/SqrtBc2 + ε): the one definition for every backend.
    /// </summary>
    internal readonly record struct Factors(float Beta1, float OneMinusBeta1, float Epsilon, float Decay, float StepSize, float SqrtBc2)
    {
        public static Factors Of(ReadOnlySpan<double> h, long step) =>
            new((float)h[1], (float)(1 - h[1]), (float)h[3], (float)(1 - (h[0] * h[4])), (float)(h[0] / (1 - Math.Pow(h[1], step))), (float)Math.Sqrt(1 - Math.Pow(h[2], step)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = UnitsOf(pass)[unit];
        StepPlan plan = CurrentPlan;
        ReadOnlySpan<double> h = plan.Hyperparameters(u.Group);
        int block = _blockOf[u.Tensor];
        int firstBlock = u.Start / block;
        ref byte g = ref Gradients<TGradient>(u.Tensor, u.Start);
        ref byte v = ref State<TState>(1, u.Tensor, firstBlock);
        float scale = (float)plan.GradientScale;
        if (pass == 0)
        {
            float b2 = (float)h[2], c2 = (float)(1 - h[2]);
            for (int k = 0, b = 0; k < u.Length; k += block, b++)
            {
                int n = Math.Min(block, u.Length - k);
                double sum = SquareLanes.Sum<TGradient>(ref Unsafe.Add(ref g, (nint)k * TGradient.ElementSize), (nuint)n, scale);
                TState.Store(ref v, (nuint)b, (b2 * TState.Load(ref v, (nuint)b)) + (c2 * (float)(sum / n)));
            }

            return;
        }

        SeedRounding<TParameter>(plan, u);

        Factors f = _factors[u.Group];
        float b1 = f.Beta1, c1 = f.OneMinusBeta1, eps = f.Epsilon, decay = f.Decay, stepSize = f.StepSize, bc2 = f.SqrtBc2;
        ref byte p = ref Parameters<TParameter>(u.Tensor, u.Start);
        ref byte m = ref State<TState>(0, u.Tensor, u.Start);
        for (int k = 0, b = 0, n; k < u.Length; k += n, b++)
        {
            // A staged unit may start and end inside a block.
            n = Math.Min(k == 0 ? block - (u.Start % block) : block, u.Length - k);
            float denom = (MathF.Sqrt(TState.Load(ref v, (nuint)b)) / bc2) + eps;
            nuint i = (nuint)k, end = (nuint)(k + n);
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= end; i += 16)
                {
                    PassPrefetch.Ahead<TParameter>(ref p, i);
                    PassPrefetch.Ahead<TGradient>(ref g, i);
                    PassPrefetch.Ahead<TState>(ref m, i);
                    Vector512<float> gi = TGradient.Load512(ref g, i) * scale;
                    Vector512<float> mi = (b1 * TState.Load512(ref m, i)) + (c1 * gi);
                    TState.Store512(ref m, i, mi);
                    if (typeof(TState) != typeof(Float32Codec))
                    {
                        mi = TState.Load512(ref m, i);
                    }

                    Vector512<float> pi = TParameter.Load512(ref p, i) * decay;
                    TParameter.Store512(ref p, i, pi - (stepSize * (mi / denom)));
                }
            }

            for (; i + 8 <= end; i += 8)
            {
                Vector256<float> gi = TGradient.Load256(ref g, i) * scale;
                TState.Store256(ref m, i, (b1 * TState.Load256(ref m, i)) + (c1 * gi));
                Vector256<float> pi = TParameter.Load256(ref p, i) * decay;
                TParameter.Store256(ref p, i, pi - (stepSize * (TState.Load256(ref m, i) / denom)));
            }

            for (; i < end; i++)
            {
                float gi = TGradient.Load(ref g, i) * scale;
                TState.Store(ref m, i, (b1 * TState.Load(ref m, i)) + (c1 * gi));
                float pi = TParameter.Load(ref p, i) * decay;
                TParameter.Store(ref p, i, pi - (stepSize * (TState.Load(ref m, i) / denom)));
            }
        }
    }
}
