namespace OptGen.Runtime.Tests.Reductions;

/// <summary>LAMB (You et al. 2020, Algorithm 2 with Adam's bias correction) declared as an expression rule with two norms.</summary>
[Optimizer(Name = "Declared LAMB")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-6)]
[Hyperparameter("Wd", 0.01)]
[State("m")]
[State("v")]
[NonNegativeState("v")] // β₂ is any finite number, so v ≥ 0 is declared: blockwise state uses the unsigned map, as the catalog's LAMB
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("v = Beta2 * v + (1 - Beta2) * g * g")]
[Update("let r = (m / bc1) / (sqrt(v / bc2) + Eps) + Wd * p")]
[Update("let pn = norm(p)")]
[Update("let rn = norm(r)")]
[Update("let trust = pn > 0 ? (rn > 0 ? pn / rn : 1) : 1")]
[Update("p = p - Lr * trust * r")]
public sealed partial class DeclaredLamb;

/// <summary>
/// NovoGrad (Ginsburg et al. 2019): a per-tensor second moment of ‖g‖², v₁ = ‖g₁‖²; m ← β₁m + g/√(v + ε) + λp;
/// p ← p − ηm. v is per tensor and stored so: one value per tensor (compact state, updated between the passes).
/// </summary>
[Optimizer(Name = "Declared NovoGrad")]
[Hyperparameter("Lr", 0.01)]
[Hyperparameter("Beta1", 0.95)]
[Hyperparameter("Beta2", 0.98)]
[Hyperparameter("Eps", 1e-8)]
[Hyperparameter("Wd", 0.001)]
[State("m")]
[State("v")]
[Update("let gg = sum(g * g)")]
[Update("v = t == 1 ? gg : Beta2 * v + (1 - Beta2) * gg")]
[Update("m = Beta1 * m + g / sqrt(v + Eps) + Wd * p")]
[Update("p = p - Lr * m")]
public sealed partial class DeclaredNovoGrad;

/// <summary>Every reduction kind once: p moves by the tensor's mean of g, minus its maximum |g| times a sum over the state.</summary>
[Optimizer]
[Hyperparameter("Lr", 0.5)]
[State("s")]
[Update("s = s + g")]
[Update("p = p - Lr * mean(g) + 0.001 * maxabs(g) * sum(s)")]
public sealed partial class DeclaredReductionKinds;

/// <summary>
/// The planner's fallback: the update of p reads m before m's own update, so pass 1 must not store m (pass 2 would
/// read the new value); m is recomputed in pass 2 from memory instead.
/// </summary>
[Optimizer]
[Hyperparameter("Lr", 0.1)]
[Hyperparameter("Beta", 0.9)]
[State("m")]
[Update("let n = norm(g)")]
[Update("p = p - Lr * m / (n + 1)")]
[Update("m = Beta * m + g")]
public sealed partial class DeclaredOlderRead;

/// <summary>p is decayed before its norm is taken, then updated with it: pass 1 computes the decayed p without storing it.</summary>
[Optimizer]
[Hyperparameter("Lr", 0.1)]
[Hyperparameter("Wd", 0.5)]
[Update("p = p * (1 - Lr * Wd)")]
[Update("let n = norm(p)")]
[Update("p = p - Lr * n * g")]
public sealed partial class DeclaredDecayFirst;
