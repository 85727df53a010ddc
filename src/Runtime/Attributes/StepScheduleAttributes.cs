using System;

namespace OptGen;

/// <summary>
/// NAdam's momentum schedule (<c>torch.optim.NAdam</c>, PyTorch 2 semantics): the first moment is applied with
/// Nesterov's look-ahead and a per-step coefficient μₜ = β₁·(1 − ½·0.96^(t·ψ)), where ψ is the settable
/// <c>MomentumDecay</c> property. The optimizer carries the running product Πₜ = μ₁·…·μₜ from step to step
/// (a host-side scalar, reset by <see cref="Optimizer.Reset"/>) and updates
/// p ← p − η·(1 − μₜ)/(1 − Πₜ) · g/d − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁) · m/d, with d = √(v/(1 − β₂ᵗ)) + ε.
/// </summary>
/// <remarks>
/// Needs [FirstMoment] (of g, from zero), an exponential-average [SecondMoment], [BiasCorrection(Power)] and
/// [Epsilon] outside the root. The first moment is not divided by 1 − β₁ᵗ: the product Πₜ takes that role.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class NesterovMomentumDecayAttribute : Attribute
{
    /// <summary>Declares NAdam's schedule.</summary>
    /// <param name="value">The momentum decay ψ ≥ 0 (PyTorch's <c>momentum_decay</c>, default 0.004).</param>
    public NesterovMomentumDecayAttribute(double value) => Value = value;

    /// <summary>The default momentum decay ψ.</summary>
    public double Value { get; }
}

/// <summary>
/// RAdam's rectification (<c>torch.optim.RAdam</c>): with ρ∞ = 2/(1 − β₂) − 1 and
/// ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ), a step with ρₜ &gt; <see cref="Threshold"/> is the adaptive step scaled by
/// rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)); every other step is plain momentum SGD,
/// p ← p − η·m/(1 − β₁ᵗ). The choice is made once per step on the host.
/// </summary>
/// <remarks>
/// Needs [FirstMoment], an exponential-average [SecondMoment], [BiasCorrection(Power)] and [Epsilon] outside the
/// root. PyTorch adds ε to √v before the bias correction: declare <c>[Epsilon(1e-8, BeforeBiasCorrection = true)]</c>
/// for its exact form.
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class RectifiedAttribute : Attribute
{
    /// <summary>The threshold on ρₜ above which the adaptive step is taken: 5 (PyTorch's rule, the default) or any value ≥ 4 (the paper uses 4).</summary>
    public double Threshold { get; set; } = 5;
}

/// <summary>
/// Adadelta's second accumulator Δ of squared updates (<c>torch.optim.Adadelta</c>): the direction is
/// u = √(Δ + ε)/√(v + ε) · g, then Δ ← ρ·Δ + (1 − ρ)·u² and p ← p − η·u. Δ shares the second moment's decay ρ
/// and ε.
/// </summary>
/// <remarks>
/// Needs an exponential-average [SecondMoment] (name its decay <c>Rho</c> to match PyTorch) and
/// <c>[Epsilon(…, Placement = EpsilonPlacement.InsideSqrt)]</c>; takes no [FirstMoment], [BiasCorrection] or
/// [Momentum].
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class DeltaAccumulatorAttribute : Attribute
{
}
