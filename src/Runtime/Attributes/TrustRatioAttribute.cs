using System;

namespace OptGen;

/// <summary>
/// A layer-wise trust ratio, per tensor, from norms the optimizer takes in a pass before the update (so the rule
/// runs in two passes over memory and derives from <see cref="ReductionOptimizer"/>):
/// <list type="bullet">
/// <item><see cref="TrustRatioForm.Lamb"/> (the default; LAMB, You et al. 2020, Algorithm 2, as optax <c>lamb</c> and
/// apex <c>FusedLAMB</c>): r = m̂/(√v̂ + ε) + λ·p (λ·p with decoupled [WeightDecay]; L2 decay enters g instead),
/// trust = κ·‖p‖/‖r‖, p ← p − η·trust·r.</item>
/// <item><see cref="TrustRatioForm.Lars"/> (LARS, You et al. 2017, as optax <c>lars</c>): local = κ·‖p‖/(‖g‖ + λ·‖p‖),
/// and the gradient with L2 decay, local·(g + λ·p), is what [Momentum] (or the step) receives.</item>
/// </list>
/// The ratio is 1 when either norm is 0 (a fresh zero tensor, a zero gradient), as in optax and apex. κ is the
/// settable <c>TrustCoefficient</c> property; with <see cref="MaxRatio"/> the ratio is also bounded above (the
/// settable <c>MaxTrustRatio</c>, DeepSpeed's <c>max_coeff</c>, timm's <c>trust_clip</c> at 1).
/// </summary>
/// <example>
/// <code>
/// [Optimizer]
/// [FirstMoment(Beta = 0.9)]
/// [SecondMoment(Beta = 0.999)]
/// [BiasCorrection(BiasCorrectionMode.Power)]
/// [Epsilon(1e-6)]
/// [WeightDecay(0.01, Decoupled = true)]
/// [TrustRatio]
/// public partial class MyLamb;
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class TrustRatioAttribute : Attribute
{
    /// <summary>LAMB's ratio on the full update direction (the default) or LARS's on the gradient.</summary>
    public TrustRatioForm Form { get; set; }

    /// <summary>The trust coefficient κ &gt; 0: 1 for LAMB and 0.001 for LARS unless given (optax's defaults).</summary>
    public double Coefficient { get; set; }

    /// <summary>An upper bound on the ratio (&gt; 0); unbounded unless given.</summary>
    public double MaxRatio { get; set; }
}
