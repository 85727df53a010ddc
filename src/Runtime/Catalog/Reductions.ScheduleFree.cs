using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OptGen.Engine;
using OptGen.Kernels;

namespace OptGen;

/// <summary>
/// Schedule-Free AdamW (Defazio et al., 2024) as <c>AdamWScheduleFree</c> of facebookresearch/schedule_free: the
/// parameters hold y (train mode); z (starting at the parameters of the first step) and v are the state. Per group
/// and step k = t − 1: s = (k + 1)/warm-up during warm-up, else 1; η_t = η·s; η_max = max(η_max, η_t);
/// w = tʳ·η_max^power; W += w; c = w/W (0 when W = 0). Per element: v ← β₂v + (1 − β₂)g²;
/// u = g/(√(v/(1 − β₂ᵗ)) + ε) + λy;
/// y ← lerp(y, z, c) + η_t(β₁(1 − c) − 1)·u; z ← z − η_t·u.
/// Defaults: η = 0.0025, β = (0.9, 0.999), ε = 1e-8, λ = 0, warm-up 0, r = 0, power 2.
/// </summary>
/// <remarks>
/// <para>One fused pass per step (reads p, g, z, v; writes p, z, v). <see cref="Eval"/> puts x = lerp(y, z, 1 − 1/β₁)
/// into the parameters and keeps y in <see cref="TrainParameters"/>; <see cref="Train"/> puts that y back exactly,
/// so an Eval/Train round trip returns the parameters bit for bit (each one fused pass over p and the state).</para>
/// <para>The mode is part of a checkpoint (as <c>train_mode</c> is of schedule_free's state dict): one saved in eval
/// mode, where the parameters held x, loads in eval mode with the kept y, so <see cref="Train"/> on the x saved with it
/// gives back y exactly (and Step refuses until then, instead of training from x). In eval mode, LoadCheckpoint, Reset
/// and ChangeStatePrecision throw <see cref="InvalidOperationException"/> (they would replace the kept y).</para>
/// </remarks>
public sealed class AdamWScheduleFree : MultiPassOptimizer
{
    private static readonly OptimizerDescriptor RuleDescriptor = new(
        name: "AdamWScheduleFree",
        ruleId: "reduction.adamw_schedulefree.v1",
        hyperparameters:
        [
            new("LearningRate", "η", 0.0025, HyperparameterRange.NonNegative),
            new("Beta1", "β₁", 0.9, HyperparameterRange.UnitInterval),
            new("Beta2", "β₂", 0.999, HyperparameterRange.UnitInterval),
            new("Epsilon", "ε", 1e-8, HyperparameterRange.Positive),
            new("WeightDecay", "λ", 0.0, HyperparameterRange.NonNegative),
            new("WarmupSteps", "warmup", 0.0, HyperparameterRange.NonNegative),
            new("R", "r", 0.0, HyperparameterRange.Finite),
            new("WeightLrPower", "power", 2.0, HyperparameterRange.Finite),
        ],
        states: [new("Z", "z"), new("SecondMoment", "v", IsNonNegative: true), new("TrainParameters", "y")],
        bytesReadPerElement: 16,
        bytesWrittenPerElement: 12,
        hostStates: [new("LrMax", "η_max", -1.0), new("WeightSum", "W", 0.0)]);

    private static readonly IReadOnlyList<PassTraffic> RulePasses = PassTraffic.Checked(
        RuleDescriptor,
        new PassTraffic("v, z and y in one fused pass", ["p", "g", "z", "v"], ["p", "z", "v"]));

    private Piece[]? _units;
    private Factors[] _factors = [];
    private bool _evalMode;

    /// <summary>Creates the optimizer for one tensor of <paramref name="length"/> parameters, in train mode.</summary>
    public AdamWScheduleFree(int length)
        : this(ParameterLayout.Single(length))
    {
    }

    /// <summary>Creates the optimizer for the tensors and groups of <paramref name="layout"/>, in train mode.</summary>
    public AdamWScheduleFree(ParameterLayout layout)
        : base(RuleDescriptor, layout, RulePasses)
    {
    }

    /// <summary>The step size η.</summary>
    public double LearningRate { get => GetHyperparameter(0); set => SetHyperparameter(0, value); }

    /// <summary>β₁, the interpolation between z and x.</summary>
    public double Beta1 { get => GetHyperparameter(1); set => SetHyperparameter(1, value); }

    /// <summary>β₂, the second moment's decay.</summary>
    public double Beta2 { get => GetHyperparameter(2); set => SetHyperparameter(2, value); }

    /// <summary>ε, added to √v.</summary>
    public double Epsilon { get => GetHyperparameter(3); set => SetHyperparameter(3, value); }

    /// <summary>λ, the weight decay, evaluated at y.</summary>
    public double WeightDecay { get => GetHyperparameter(4); set => SetHyperparameter(4, value); }

    /// <summary>The number of warm-up steps (the step size rises linearly over them).</summary>
    public double WarmupSteps { get => GetHyperparameter(5); set => SetHyperparameter(5, value); }

    /// <summary>r, the power of t in the averaging weights.</summary>
    public double R { get => GetHyperparameter(6); set => SetHyperparameter(6, value); }

    /// <summary>The power of η_max in the averaging weights.</summary>
    public double WeightLrPower { get => GetHyperparameter(7); set => SetHyperparameter(7, value); }

    /// <summary>z, one value per parameter.</summary>
    public ReadOnlySpan<float> Z => GetState(0);

    /// <summary>v, one value per parameter.</summary>
    public ReadOnlySpan<float> SecondMoment => GetState(1);

    /// <summary>y as it was when <see cref="Eval"/> ran (what <see cref="Train"/> restores); meaningful in eval mode only.</summary>
    public ReadOnlySpan<float> TrainParameters => GetState(2);

    /// <summary>Whether the parameters hold x (after <see cref="Eval"/>) rather than y.</summary>
    public bool IsEvalMode => _evalMode;

    /// <summary>
    /// Puts the averaged parameters x = lerp(y, z, 1 − 1/β₁) (each group's β₁) into <paramref name="parameters"/> and
    /// keeps y; nothing happens in eval mode or before the first step (x = y then).
    /// </summary>
    /// <param name="parameters">The parameters, as given to <c>Step</c> (a packed arena of <see cref="Optimizer.Length"/> elements).</param>
    /// <exception cref="ArgumentException">The length differs from <see cref="Optimizer.Length"/>; nothing is written.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A group's <see cref="Beta1"/> is 0 (1/β₁ is not finite in float32); nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing is written.</exception>
    public void Eval(Span<float> parameters) => Swap(parameters, toEval: true);

    /// <summary>Puts back exactly the y that <see cref="Eval"/> replaced; nothing happens in train mode.</summary>
    /// <param name="parameters">The parameters (a packed arena of <see cref="Optimizer.Length"/> elements).</param>
    /// <exception cref="ArgumentException">The length differs from <see cref="Optimizer.Length"/>; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another thread is using the optimizer; nothing is written.</exception>
    public void Train(Span<float> parameters) => Swap(parameters, toEval: false);

    /// <inheritdoc/>
    private protected override bool? CheckpointEvalMode => _evalMode;

    /// <inheritdoc/>
    private protected override void RestoreEvalMode(bool evalMode) => _evalMode = evalMode;

    /// <inheritdoc/>
    private protected override void ThrowIfStateHeld(string operation)
    {
        if (_evalMode)
        {
            throw new InvalidOperationException($"AdamWScheduleFree is in eval mode (the parameters hold x and the state keeps y): call Train(parameters) before {operation}. Nothing was changed.");
        }
    }

    /// <inheritdoc/>
    protected override void AdvanceHostState(Span<double> hostState, ReadOnlySpan<double> hyperparameters, long step)
    {
        (double lr, double lrMax, double weight) = Schedule(hyperparameters, hostState[0], step);
        _ = lr;
        hostState[0] = lrMax;
        hostState[1] += weight;
    }

    /// <inheritdoc/>
    protected override void ValidateStepScalars(ReadOnlySpan<double> hyperparameters, ReadOnlySpan<double> hostState, long step, double gradientScale)
    {
        if (_evalMode)
        {
            throw new InvalidOperationException("AdamWScheduleFree is in eval mode (the parameters hold x); call Train(parameters) before Step. Nothing was written.");
        }

        (double lr, double ckp1) = StepValues(hyperparameters, hostState, step);
        StepScalars.RequireFinite(lr, "ScheduledLearningRate", "η·s", step);
        StepScalars.RequireFiniteNonzero(1 - Math.Pow(hyperparameters[2], step), "Bc2", "1 − β₂ᵗ", step);
        StepScalars.RequireFinite(lr * ((hyperparameters[1] * (1 - ckp1)) - 1), "YStep", "η_t(β₁(1 − c) − 1)", step);
        StepScalars.RequireFinite(hostState[1], "WeightSum", "W", step);
        StepScalars.RequireFinite(gradientScale, "GradientScale", "gradientScale", step);
    }

    private static (double Lr, double LrMax, double Weight) Schedule(ReadOnlySpan<double> h, double previousLrMax, long step)
    {
        long k = step - 1;
        double sched = k < h[5] ? (k + 1) / h[5] : 1.0;
        double lr = h[0] * sched;
        double lrMax = Math.Max(lr, previousLrMax);
        double weight = Math.Pow(step, h[6]) * Math.Pow(lrMax, h[7]);
        return (lr, lrMax, weight);
    }

    /// <summary>η_t and c = w/W of this step, from the host state already advanced to it.</summary>
    internal static (double Lr, double Ckp1) StepValues(ReadOnlySpan<double> h, ReadOnlySpan<double> hostState, long step)
    {
        (double lr, _, _) = Schedule(h, double.NegativeInfinity, step);
        double weight = Math.Pow(step, h[6]) * Math.Pow(hostState[0], h[7]);
        double weightSum = hostState[1];
        return (lr, weightSum != 0 ? weight / weightSum : 0);
    }

    /// <inheritdoc/>
    private protected override Piece[]? StageableUnits => _units ??= CutUnits(Layout, _ => 1);

    private protected override void RunPasses<TParameter, TGradient, TState>(StepPlan plan)
    {
        Piece[] units = _units ??= CutUnits(Layout, _ => 1);
        if (_factors.Length != Layout.GroupCount)
        {
            _factors = new Factors[Layout.GroupCount];
        }

        for (int k = 0; k < _factors.Length; k++)
        {
            _factors[k] = Factors.Of(plan.Hyperparameters(k), plan.HostState(k), plan.Step, plan.GradientScale);
        }

        RunUnits<TParameter, TGradient, TState>(0, units.Length);
    }

    /// <summary>
    /// The float32 factors of one group's step (from its hyperparameters and its host state already advanced to the
    /// step): the one definition for every backend. InverseBc2 = 1/(1 − β₂ᵗ), Ckp1 = c, Lr = η_t, YStep = η_t(β₁(1 − c) − 1).
    /// </summary>
    internal readonly record struct Factors(float Beta2, float OneMinusBeta2, float InverseBc2, float Epsilon, float WeightDecay, float GradientScale, float Ckp1, float Lr, float YStep)
    {
        public static Factors Of(ReadOnlySpan<double> h, ReadOnlySpan<double> hostState, long step, double gradientScale)
        {
            (double lr, double ckp1) = StepValues(h, hostState, step);
            return new((float)h[2], (float)(1 - h[2]), (float)(1 / (1 - Math.Pow(h[2], step))), (float)h[3], (float)h[4], (float)gradientScale, (float)ckp1, (float)lr, (float)(lr * ((h[1] * (1 - ckp1)) - 1)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override void RunUnit<TParameter, TGradient, TState>(int pass, int unit)
    {
        Piece u = _units![unit];
        StepPlan plan = CurrentPlan;
        Factors f = _factors[u.Group];
        SeedRounding<TParameter>(plan, u);

        float b2 = f.Beta2, c2 = f.OneMinusBeta2, bc2 = f.InverseBc2, eps = f.Epsilon, wd = f.WeightDecay, scale = f.GradientScale;
        float ckp1 = f.Ckp1, lr = f.Lr, yStep = f.YStep;
        bool first = plan.Step == 1;
        ref byte p = ref Parameters<TParameter>(u.Tensor, u.Start);
        ref byte g = ref Gradients<TGradient>(u.Tensor, u.Start);
        ref byte z = ref State<TState>(0, u.Tensor, u.Start);
        ref byte v = ref State<TState>(1, u.Tensor, u.Start);
        nuint n = (nuint)u.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // The formulas of the 256-bit loop below, 16 lanes at a time.
            Vector512<float> epsilon = Vector512.Create(eps);
            for (; i + 16 <= n; i += 16)
            {
                PassPrefetch.Ahead<TParameter>(ref p, i);
                PassPrefetch.Ahead<TGradient>(ref g, i);
                PassPrefetch.Ahead<TState>(ref z, i);
                PassPrefetch.Ahead<TState>(ref v, i);
                Vector512<float> y = TParameter.Load512(ref p, i);
                Vector512<float> gi = TGradient.Load512(ref g, i) * scale;
                Vector512<float> zi = first ? y : TState.Load512(ref z, i);
                Vector512<float> vi = (TState.Load512(ref v, i) * b2) + (c2 * (gi * gi));
                TState.Store512(ref v, i, vi);
                if (typeof(TState) != typeof(Float32Codec))
                {
                    vi = TState.Load512(ref v, i);
                }

                Vector512<float> normalized = gi / (Vector512.Sqrt(vi * bc2) + epsilon);
                if (wd != 0)
                {
                    normalized += wd * y;
                }

                Vector512<float> lerped = TorchLerp.Of(y, zi, ckp1);
                TState.Store512(ref z, i, zi - (lr * normalized));
                TParameter.Store512(ref p, i, lerped + (normalized * yStep));
            }
        }

        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> y = TParameter.Load256(ref p, i);
            Vector256<float> gi = TGradient.Load256(ref g, i) * scale;
            Vector256<float> zi = first ? y : TState.Load256(ref z, i);
            TState.Store256(ref v, i, (TState.Load256(ref v, i) * b2) + (c2 * (gi * gi)));
            Vector256<float> normalized = gi / (Vector256.Sqrt(TState.Load256(ref v, i) * bc2) + Vector256.Create(eps));
            if (wd != 0)
            {
                normalized += wd * y;
            }

            Vector256<float> lerped = TorchLerp.Of(y, zi, ckp1);
            TState.Store256(ref z, i, zi - (lr * normalized));
            TParameter.Store256(ref p, i, lerped + (normalized * yStep));
        }

        for (; i < n; i++)
        {
            float y = TParameter.Load(ref p, i);
            float gi = TGradient.Load(ref g, i) * scale;
            float zi = first ? y : TState.Load(ref z, i);
            TState.Store(ref v, i, (TState.Load(ref v, i) * b2) + (c2 * (gi * gi)));
            float normalized = gi / (MathF.Sqrt(TState.Load(ref v, i) * bc2) + eps);
            if (wd != 0)
            {
                normalized += wd * y;
            }

            y = TorchLerp.Of(y, zi, ckp1) + (normalized * yStep);
            TState.Store(ref z, i, zi - (lr * normalized));
            TParameter.Store(ref p, i, y);
        }
    }

    private void Swap(Span<float> parameters, bool toEval)
    {
        if (parameters.Length != Length)
        {
            throw new ArgumentException($"The parameters have {parameters.Length} elements; this optimizer updates {Length}. Nothing was written.", nameof(parameters));
        }

        using StepGuard guard = EnterGuard(toEval ? nameof(Eval) : nameof(Train));
        if (ReadyToMove(toEval))
        {
            StateStorage state = StateStorage;
            for (int j = 0; j < Layout.TensorCount; j++)
            {
                float beta1 = (float)GetGroupHyperparameter(Layout.GroupOf(j), "Beta1");
                Span<float> y = parameters.Slice(Layout.ArenaOffsetOf(j), Layout.LengthOf(j));
                Span<float> z = state.Plane(0).Slice(Layout.StateOffsetOf(j), y.Length);
                Span<float> saved = state.Plane(2).Slice(Layout.StateOffsetOf(j), y.Length);
                if (toEval)
                {
                    float w = 1 - (1 / beta1);
                    for (int i = 0; i < y.Length; i++)
                    {
                        saved[i] = y[i];
                        y[i] = TorchLerp.Of(y[i], z[i], w);
                    }
                }
                else
                {
                    saved.CopyTo(y);
                }
            }
        }

        _evalMode = toEval;
    }

    /// <summary>
    /// Eval/Train with parameters held elsewhere (the GPU backend): the same guard and checks as
    /// <see cref="Eval"/> and <see cref="Train"/>; <paramref name="move"/> moves the parameters and the saved y.
    /// </summary>
    internal void Swap(bool toEval, Action<bool> move)
    {
        using StepGuard guard = EnterGuard(toEval ? nameof(Eval) : nameof(Train));
        if (ReadyToMove(toEval))
        {
            move(toEval);
        }

        _evalMode = toEval;
    }

    /// <summary>The checks of a swap, inside the guard: false when nothing moves (already in that mode, or no step taken yet).</summary>
    private bool ReadyToMove(bool toEval)
    {
        if (_evalMode == toEval || StepCount == 0)
        {
            return false;
        }

        if (StateStorage.ElementSize != sizeof(float))
        {
            throw new InvalidOperationException($"Eval and Train need float32 state (y is kept in a state buffer to be restored exactly); this optimizer's state is stored as {(HasGroupStatePrecision ? "a precision per group" : StatePrecision)}. Nothing was written.");
        }

        for (int k = 0; toEval && k < Layout.GroupCount; k++)
        {
            // x = lerp(y, z, 1 − 1/β₁): β₁ = 0 (or one so small that 1/β₁ overflows float32) has no averaged point.
            double beta1 = GetGroupHyperparameter(k, "Beta1");
            if (!float.IsFinite(1 - (1 / (float)beta1)))
            {
                throw new ArgumentOutOfRangeException(nameof(Beta1), beta1, $"Eval needs β₁ > 0 (x = lerp(y, z, 1 − 1/β₁)); group {k}'s Beta1 is {beta1:R}. Nothing was written.");
            }
        }

        return true;
    }
}
