using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// LARS (You et al., 2017), per tensor: local = tc·‖p‖/(‖g‖ + λ‖p‖) (1 when ‖p‖ or ‖g‖ is 0),
/// b ← μb + η·local·(g + λp), p ← p − b. Defaults: η = 0.1, μ = 0.9, λ = 0, tc = 0.001.
/// </summary>
/// <remarks>
/// Two passes per step: (1) Σp² and Σg² per tensor (reads p, g); (2) the momentum step (reads p, g, b; writes p, b):
/// 28 bytes per element and step (float32).
/// </remarks>
public sealed class Lars : MultiPassOptimizer
{
    private static readonly OptimizerDescriptor RuleDescriptor = new(
        name: "LARS",
        ruleId: "reduction.lars.v1",
        hyperparameters:
        [
            new("LearningRate", "η", 0.1, HyperparameterRange.NonNegative),
            new("Momentum", "μ", 0.9, HyperparameterRange.UnitInterval),
            new("WeightDecay", "λ", 0.0, HyperparameterRange.NonNegative),
            new("TrustCoefficient", "tc", 0.001, HyperparameterRange.NonNegative),
        ],
        states: [new("MomentumBuffer", "b")],
        bytesReadPerElement: 20,
        bytesWrittenPerElement: 8);

    private static readonly IReadOnlyList<PassTraffic> RulePasses = PassTraffic.Checked(
        RuleDescriptor,
        new("Σp², Σg² per tensor", ["p", "g"], []), new("b ← μb + η·local·(g + λp); p ← p − b", ["p", "g", "b"], ["p", "b"]));

    private Piece[]? _units;
    private double[] _partials = [];
    private double[] _sums = [];
    private float[] _factor = [];

    /// <summary>Creates LARS for one vector tensor of <paramref name="length"/> parameters.</summary>
    public Lars(int length)
        : this(ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates LARS for the tensors and groups of <paramref name="layout"/>; the local rate is per tensor.</summary>
    public Lars(ParameterLayout layout)
        : base(RuleDescriptor, layout, RulePasses)
    {
    }

    /// <summary>The global step size η.</summary>
    public double LearningRate { get => GetHyperparameter(0); set => SetHyperparameter(0, value); }

    /// <summary>μ, the momentum.</summary>
    public double Momentum { get => GetHyperparameter(1); set => SetHyperparameter(1, value); }

    /// <summary>λ, the weight decay.</summary>
    public double WeightDecay { get => GetHyperparameter(2); set => SetHyperparameter(2, value); }

    /// <summary>tc, the trust coefficient.</summary>
    public double TrustCoefficient { get => GetHyperparameter(3); set => SetHyperparameter(3, value); }

    /// <summary>The momentum buffer b, one value per parameter.</summary>
    public ReadOnlySpan<float> MomentumBuffer => GetState(0);

    /// <inheritdoc/>
    protected override void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale) =>
        StepScalars.RequireFinite(gradientScale, "GradientScale", "gradientScale", step);

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

        RunUnits<TParameter, TGradient, TState>(0, units.Length);
        SumPerTensor(units, _partials, 2, _sums);
        for (int j = 0; j < Layout.TensorCount; j++)
        {
            ReadOnlySpan<double> h = plan.Hyperparameters(Layout.GroupOf(j));
            double pn = Math.Sqrt(_sums[2 * j]);
            double gn = Math.Sqrt(_sums[(2 * j) + 1]) * plan.GradientScale;
            double local = ReductionFormulas.LarsLocal(h[3], h[2], pn, gn);
            _factor[j] = (float)(h[0] * local);
        }

        RunUnits<TParameter, TGradient, TState>(1, units.Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = _units![unit];
        StepPlan plan = CurrentPlan;
        ref byte p = ref Parameters<TParameter>(u.Tensor, u.Start);
        ref byte g = ref Gradients<TGradient>(u.Tensor, u.Start);
        nuint n = (nuint)u.Length, i = 0;
        if (pass == 0)
        {
            Vector512<double> pEven = default, pOdd = default, gEven = default, gOdd = default;
            double pTail = 0, gTail = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 16 <= n; i += 16)
                {
                    PassPrefetch.Ahead<TParameter>(ref p, i);
                    PassPrefetch.Ahead<TGradient>(ref g, i);
                    SquareLanes.Add(TParameter.Load512(ref p, i), ref pEven, ref pOdd);
                    SquareLanes.Add(TGradient.Load512(ref g, i), ref gEven, ref gOdd);
                }
            }

            for (; i + 16 <= n; i += 16)
            {
                SquareLanes.Add(TParameter.Load256(ref p, i), TParameter.Load256(ref p, i + 8), ref pEven, ref pOdd);
                SquareLanes.Add(TGradient.Load256(ref g, i), TGradient.Load256(ref g, i + 8), ref gEven, ref gOdd);
            }

            if (i + 8 <= n)
            {
                SquareLanes.Add(TParameter.Load256(ref p, i), ref pEven);
                SquareLanes.Add(TGradient.Load256(ref g, i), ref gEven);
                i += 8;
            }

            for (; i < n; i++)
            {
                SquareLanes.Add(TParameter.Load(ref p, i), ref pTail);
                SquareLanes.Add(TGradient.Load(ref g, i), ref gTail);
            }

            _partials[2 * unit] = SquareLanes.Fold(pEven, pOdd, pTail);
            _partials[(2 * unit) + 1] = SquareLanes.Fold(gEven, gOdd, gTail);
            return;
        }

        SeedRounding<TParameter>(plan, u);

        ReadOnlySpan<double> h = plan.Hyperparameters(u.Group);
        float mu = (float)h[1], wd = (float)h[2], scale = (float)plan.GradientScale, factor = _factor[u.Tensor];
        ref byte b = ref State<TState>(0, u.Tensor, u.Start);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                PassPrefetch.Ahead<TParameter>(ref p, i);
                PassPrefetch.Ahead<TGradient>(ref g, i);
                PassPrefetch.Ahead<TState>(ref b, i);
                Vector512<float> pi = TParameter.Load512(ref p, i);
                Vector512<float> d = (TGradient.Load512(ref g, i) * scale) + (wd * pi);
                Vector512<float> bi = (mu * TState.Load512(ref b, i)) + (factor * d);
                TState.Store512(ref b, i, bi);
                TParameter.Store512(ref p, i, pi - (typeof(TState) == typeof(Float32Codec) ? bi : TState.Load512(ref b, i)));
            }
        }

        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> pi = TParameter.Load256(ref p, i);
            Vector256<float> d = (TGradient.Load256(ref g, i) * scale) + (wd * pi);
            TState.Store256(ref b, i, (mu * TState.Load256(ref b, i)) + (factor * d));
            TParameter.Store256(ref p, i, pi - TState.Load256(ref b, i));
        }

        for (; i < n; i++)
        {
            float pi = TParameter.Load(ref p, i);
            float d = (TGradient.Load(ref g, i) * scale) + (wd * pi);
            TState.Store(ref b, i, (mu * TState.Load(ref b, i)) + (factor * d));
            TParameter.Store(ref p, i, pi - TState.Load(ref b, i));
        }
    }
}
