// Catalog rules with reductions (docs/reductions.md): each step is a few passes over memory with per-tensor (row,
// column, block) reductions between them, run by MultiPassOptimizer on the step engine.

using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// LAMB (You et al., 2020, Algorithm 2, with Adam's bias correction), per tensor: m ← β₁m + (1 − β₁)g,
/// v ← β₂v + (1 − β₂)g², r = (m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε) + λp, trust = ‖p‖/‖r‖ (1 when either norm is 0),
/// p ← p − η·trust·r. Defaults as apex FusedLAMB: η = 1e-3, β = (0.9, 0.999), ε = 1e-6, λ = 0.01.
/// </summary>
/// <remarks>
/// Two passes per step: (1) m, v and r per element, Σp² and Σr² per tensor (reads p, g, m, v; writes m, v);
/// (2) r recomputed from the stored m, v and p, then p ← p − η·trust·r (reads p, m, v; writes p). Recomputing r
/// reads 8 bytes per element where storing it would write 4 and read 4 more and need a scratch plane: 40 bytes per
/// element and step in all (float32).
/// </remarks>
public sealed class Lamb : MultiPassOptimizer
{
    private static readonly OptimizerDescriptor RuleDescriptor = new(
        name: "LAMB",
        ruleId: "reduction.lamb.v1",
        hyperparameters:
        [
            new("LearningRate", "η", 1e-3, HyperparameterRange.NonNegative),
            new("Beta1", "β₁", 0.9, HyperparameterRange.UnitInterval),
            new("Beta2", "β₂", 0.999, HyperparameterRange.UnitInterval),
            new("Epsilon", "ε", 1e-6, HyperparameterRange.Positive),
            new("WeightDecay", "λ", 0.01, HyperparameterRange.NonNegative),
        ],
        states: [new("FirstMoment", "m"), new("SecondMoment", "v", IsNonNegative: true)],
        bytesReadPerElement: 28,
        bytesWrittenPerElement: 12);

    private static readonly IReadOnlyList<PassTraffic> RulePasses = PassTraffic.Checked(
        RuleDescriptor,
        new("m, v and r per element; Σp², Σr² per tensor", ["p", "g", "m", "v"], ["m", "v"]), new("r recomputed from m, v, p; p ← p − η·trust·r", ["p", "m", "v"], ["p"]));

    private Piece[]? _units;
    private double[] _partials = [];
    private double[] _sums = [];
    private float[] _factor = [];
    private Scalars[] _scalars = [];

    /// <summary>Creates LAMB for one vector tensor of <paramref name="length"/> parameters.</summary>
    public Lamb(int length)
        : this(ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates LAMB for the tensors and groups of <paramref name="layout"/>; the trust ratio is per tensor.</summary>
    public Lamb(ParameterLayout layout)
        : base(RuleDescriptor, layout, RulePasses)
    {
    }

    /// <summary>The step size η.</summary>
    public double LearningRate { get => GetHyperparameter(0); set => SetHyperparameter(0, value); }

    /// <summary>β₁, the first moment's decay.</summary>
    public double Beta1 { get => GetHyperparameter(1); set => SetHyperparameter(1, value); }

    /// <summary>β₂, the second moment's decay.</summary>
    public double Beta2 { get => GetHyperparameter(2); set => SetHyperparameter(2, value); }

    /// <summary>ε, added to √v̂.</summary>
    public double Epsilon { get => GetHyperparameter(3); set => SetHyperparameter(3, value); }

    /// <summary>λ, the weight decay added to r (inside the trust ratio).</summary>
    public double WeightDecay { get => GetHyperparameter(4); set => SetHyperparameter(4, value); }

    /// <summary>The first moment m, one value per parameter.</summary>
    public ReadOnlySpan<float> FirstMoment => GetState(0);

    /// <summary>The second moment v, one value per parameter.</summary>
    public ReadOnlySpan<float> SecondMoment => GetState(1);

    /// <inheritdoc/>
    protected override void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale)
    {
        Scalars s = Scalars.Of(hyperparameters, step, gradientScale);
        StepScalars.RequireFiniteNonzero(s.Bc1, "Bc1", "1 − β₁ᵗ", step);
        StepScalars.RequireFiniteNonzero(s.Bc2, "Bc2", "1 − β₂ᵗ", step);
        StepScalars.RequireFinite(gradientScale, "GradientScale", "gradientScale", step);
    }

    /// <inheritdoc/>
    private protected override Piece[]? StageableUnits => _units ??= CutUnits(Layout, _ => 1);

    private protected override void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
    {
        Piece[] units = _units ??= CutUnits(Layout, _ => 1);
        if (_partials.Length != units.Length * 2 || _sums.Length != Layout.TensorCount * 2)
        {
            _partials = new double[units.Length * 2];
            _sums = new double[Layout.TensorCount * 2];
            _factor = new float[Layout.TensorCount];
        }

        if (_scalars.Length != Layout.GroupCount)
        {
            _scalars = new Scalars[Layout.GroupCount];
        }

        for (int k = 0; k < _scalars.Length; k++)
        {
            _scalars[k] = Scalars.Of(plan.Hyperparameters(k), plan.Step, plan.GradientScale);
        }

        RunUnits<TParameter, TGradient, TState>(0, units.Length);
        SumPerTensor(units, _partials, 2, _sums);
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            double pn = Math.Sqrt(_sums[2 * j]);
            double rn = Math.Sqrt(_sums[(2 * j) + 1]);
            double trust = ReductionFormulas.LambTrust(pn, rn);
            _factor[j] = (float)(plan.Hyperparameters(Layout.GroupOf(j))[0] * trust);
        }

        RunUnits<TParameter, TGradient, TState>(1, units.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = _units![unit];
        StepPlan plan = CurrentPlan;
        Scalars s = _scalars[u.Group];
        ref byte p = ref Parameters<TParameter>(u.Tensor, u.Start);
        ref byte m = ref State<TState>(0, u.Tensor, u.Start);
        ref byte v = ref State<TState>(1, u.Tensor, u.Start);
        var d = new DirectionScalars((float)(1 / s.Bc1), (float)(1 / s.Bc2), (float)s.Epsilon, (float)s.WeightDecay);
        if (pass == 0)
        {
            var moments = new MomentScalars((float)s.Beta1, (float)(1 - s.Beta1), (float)s.Beta2, (float)(1 - s.Beta2), (float)s.GradientScale);
            (_partials[2 * unit], _partials[(2 * unit) + 1]) = Moments<TParameter, TGradient, TState>(ref p, ref Gradients<TGradient>(u.Tensor, u.Start), ref m, ref v, (nuint)u.Length, moments, d);
            return;
        }

        SeedRounding<TParameter>(plan, u);
        Update<TParameter, TState>(ref p, ref m, ref v, (nuint)u.Length, d, _factor[u.Tensor]);
    }

    /// <summary>
    /// Pass 1 over one unit: m, v stored, and (Σp², Σr²) in double lanes (<see cref="SquareLanes"/>), r from the
    /// moments as stored (bfloat16 state rounds them), exactly as pass 2 recomputes it. A method of its own, with the
    /// scalars broadcast once, so the loops keep everything in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double PSquares, double RSquares) Moments<TParameter, TGradient, TState>(ref byte p, ref byte g, ref byte m, ref byte v, nuint n, MomentScalars k, DirectionScalars d)
        where TParameter : struct, IElementCodec
        where TGradient : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        Vector512<double> pEven = default, pOdd = default, rEven = default, rOdd = default;
        double pTail = 0, rTail = 0;
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> b1 = Vector512.Create(k.Beta1), c1 = Vector512.Create(k.OneMinusBeta1), b2 = Vector512.Create(k.Beta2), c2 = Vector512.Create(k.OneMinusBeta2), scale = Vector512.Create(k.Scale);
            Vector512<float> bc1 = Vector512.Create(d.Bc1), bc2 = Vector512.Create(d.Bc2), eps = Vector512.Create(d.Epsilon), wd = Vector512.Create(d.WeightDecay);
            for (; i + 16 <= n; i += 16)
            {
                PassPrefetch.Ahead<TParameter>(ref p, i, PassPrefetch.Near);
                PassPrefetch.Ahead<TGradient>(ref g, i, PassPrefetch.Near);
                PassPrefetch.Ahead<TState>(ref m, i, PassPrefetch.Near);
                PassPrefetch.Ahead<TState>(ref v, i, PassPrefetch.Near);
                Vector512<float> pi = TParameter.Load512(ref p, i);
                Vector512<float> gi = TGradient.Load512(ref g, i) * scale;
                Vector512<float> mi = (b1 * TState.Load512(ref m, i)) + (c1 * gi);
                Vector512<float> vi = (b2 * TState.Load512(ref v, i)) + (c2 * gi * gi);
                TState.Store512(ref m, i, mi);
                TState.Store512(ref v, i, vi);
                if (typeof(TState) != typeof(Float32Codec))
                {
                    mi = TState.Load512(ref m, i);
                    vi = TState.Load512(ref v, i);
                }

                SquareLanes.Add(pi, ref pEven, ref pOdd);
                SquareLanes.Add(((mi * bc1) / (Vector512.Sqrt(vi * bc2) + eps)) + (wd * pi), ref rEven, ref rOdd);
            }
        }

        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> pi = TParameter.Load256(ref p, i);
            Vector256<float> gi = TGradient.Load256(ref g, i) * k.Scale;
            TState.Store256(ref m, i, (k.Beta1 * TState.Load256(ref m, i)) + (k.OneMinusBeta1 * gi));
            TState.Store256(ref v, i, (k.Beta2 * TState.Load256(ref v, i)) + (k.OneMinusBeta2 * gi * gi));
            Vector256<float> r = Direction(TState.Load256(ref m, i), TState.Load256(ref v, i), pi, d);

            // Of 16 elements the first 8 go to the even lanes, the next 8 to the odd ones (as Vector512 does).
            if ((i & 8) == 0)
            {
                SquareLanes.Add(pi, ref pEven);
                SquareLanes.Add(r, ref rEven);
            }
            else
            {
                SquareLanes.Add(pi, ref pOdd);
                SquareLanes.Add(r, ref rOdd);
            }
        }

        for (; i < n; i++)
        {
            float pi = TParameter.Load(ref p, i);
            float gi = TGradient.Load(ref g, i) * k.Scale;
            TState.Store(ref m, i, (k.Beta1 * TState.Load(ref m, i)) + (k.OneMinusBeta1 * gi));
            TState.Store(ref v, i, (k.Beta2 * TState.Load(ref v, i)) + (k.OneMinusBeta2 * gi * gi));
            float r = ReductionFormulas.LambDirection(TState.Load(ref m, i), TState.Load(ref v, i), pi, d.Bc1, d.Bc2, d.Epsilon, d.WeightDecay);
            SquareLanes.Add(pi, ref pTail);
            SquareLanes.Add(r, ref rTail);
        }

        return (SquareLanes.Fold(pEven, pOdd, pTail), SquareLanes.Fold(rEven, rOdd, rTail));
    }

    /// <summary>Pass 2 over one unit: r recomputed from the stored m, v and p, then p ← p − factor·r (factor = η·trust).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Update<TParameter, TState>(ref byte p, ref byte m, ref byte v, nuint n, DirectionScalars d, float factor)
        where TParameter : struct, IElementCodec
        where TState : struct, IElementCodec
    {
        nuint i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> bc1 = Vector512.Create(d.Bc1), bc2 = Vector512.Create(d.Bc2), eps = Vector512.Create(d.Epsilon), wd = Vector512.Create(d.WeightDecay), f = Vector512.Create(factor);
            for (; i + 16 <= n; i += 16)
            {
                PassPrefetch.Ahead<TParameter>(ref p, i, PassPrefetch.Near);
                PassPrefetch.Ahead<TState>(ref m, i, PassPrefetch.Near);
                PassPrefetch.Ahead<TState>(ref v, i, PassPrefetch.Near);
                Vector512<float> pi = TParameter.Load512(ref p, i);
                Vector512<float> r = ((TState.Load512(ref m, i) * bc1) / (Vector512.Sqrt(TState.Load512(ref v, i) * bc2) + eps)) + (wd * pi);
                TParameter.Store512(ref p, i, pi - (f * r));
            }
        }

        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> pi = TParameter.Load256(ref p, i);
            Vector256<float> r = Direction(TState.Load256(ref m, i), TState.Load256(ref v, i), pi, d);
            TParameter.Store256(ref p, i, pi - (factor * r));
        }

        for (; i < n; i++)
        {
            float pi = TParameter.Load(ref p, i);
            float r = ReductionFormulas.LambDirection(TState.Load(ref m, i), TState.Load(ref v, i), pi, d.Bc1, d.Bc2, d.Epsilon, d.WeightDecay);
            TParameter.Store(ref p, i, pi - (factor * r));
        }
    }

    // The vector forms of ReductionFormulas.LambDirection (the same operations in the same order); bc1, bc2 are the
    // reciprocals 1/(1 − β₁ᵗ), 1/(1 − β₂ᵗ): one division per element.
    private static Vector256<float> Direction(Vector256<float> m, Vector256<float> v, Vector256<float> p, DirectionScalars d) =>
        ((m * d.Bc1) / (Vector256.Sqrt(v * d.Bc2) + Vector256.Create(d.Epsilon))) + (d.WeightDecay * p);

    /// <summary>The float32 scalars of r = (m·bc1)/(√(v·bc2) + ε) + λp for one group and step.</summary>
    private readonly record struct DirectionScalars(float Bc1, float Bc2, float Epsilon, float WeightDecay);

    /// <summary>The float32 scalars of the moments' update for one group and step.</summary>
    private readonly record struct MomentScalars(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float Scale);

    /// <summary>The per-step scalars of one group (bias corrections 1 − βᵗ as they are, not reciprocals): the one definition for every backend.</summary>
    internal readonly record struct Scalars(double Beta1, double Beta2, double Epsilon, double WeightDecay, double Bc1, double Bc2, double GradientScale)
    {
        public static Scalars Of(ReadOnlySpan<double> h, long step, double gradientScale) =>
            new(h[1], h[2], h[3], h[4], 1 - Math.Pow(h[1], step), 1 - Math.Pow(h[2], step), gradientScale);
    }
}
