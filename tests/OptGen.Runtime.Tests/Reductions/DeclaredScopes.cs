namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Adam-mini (Zhang et al. 2024) declared as an expression rule: one second moment per block of 16 consecutive
/// elements, v_b ← β₂v_b + (1 − β₂)·mean over the block of g²; m per element as Adam; decoupled decay. v is
/// stored one value per block (compact), as the catalog's <see cref="AdamMini"/> with BlockSize = 16 stores it.
/// </summary>
[Optimizer(Name = "Declared Adam-mini")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-8)]
[Hyperparameter("Wd", 0.0)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("v = Beta2 * v + (1 - Beta2) * block_mean(g * g, 16)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("p = p * (1 - Lr * Wd) - Lr * (m / bc1) / (sqrt(v / bc2) + Eps)")]
public sealed partial class DeclaredAdamMini;

/// <summary>
/// Adam-mini (Zhang et al. 2024) with one second moment per row of each matrix (a vector is one row):
/// v_r ← β₂v_r + (1 − β₂)·mean over the row of g²; m per element; decoupled decay. v is stored one value per row
/// (compact), as the catalog's <see cref="AdamMini"/> with its default BlockSize (0: rows).
/// </summary>
[Optimizer(Name = "Declared row Adam-mini")]
[Hyperparameter("Lr", 1e-3)]
[Hyperparameter("Beta1", 0.9)]
[Hyperparameter("Beta2", 0.999)]
[Hyperparameter("Eps", 1e-8)]
[Hyperparameter("Wd", 0.0)]
[State("m")]
[State("v")]
[StepScalar("bc1", "1 - pow(Beta1, t)")]
[StepScalar("bc2", "1 - pow(Beta2, t)")]
[Update("v = Beta2 * v + (1 - Beta2) * row_mean(g * g)")]
[Update("m = Beta1 * m + (1 - Beta1) * g")]
[Update("p = p * (1 - Lr * Wd) - Lr * (m / bc1) / (sqrt(v / bc2) + Eps)")]
public sealed partial class DeclaredRowAdamMini;

/// <summary>
/// A factored second moment (Adafactor's, Shazeer and Stern 2018, without its relative step size and update
/// clipping): per matrix, row and column averages of g² + ε₁ with weight w = t^c; V_ij = R_i·C_j / mean(R);
/// p ← p − η·g/√V. r is stored per row, c per column, and mean(r) is reduced from the compact r between the passes:
/// m + n floats for an m × n matrix, as the catalog's Adafactor.
/// </summary>
[Optimizer(Name = "Declared factored second moment")]
[Hyperparameter("Lr", 1e-2)]
[Hyperparameter("Decay", -0.8)]
[Hyperparameter("Eps1", 1e-30, Range = HyperparameterRange.Positive)]
[State("r")]
[State("c")]
[StepScalar("w", "pow(t, Decay)")]
[Update("let gg = g * g + Eps1")]
[Update("r = lerp(r, row_mean(gg), w)")]
[Update("c = lerp(c, col_mean(gg), w)")]
[Update("p = p - Lr * g / sqrt(r * c / mean(r))")]
public sealed partial class DeclaredFactored;

/// <summary>
/// The same factored second moment with mean(R) kept as a third, per-tensor state s = lerp(s, mean(g² + ε₁), w)
/// (equal to mean(R) in exact arithmetic, since lerp and the mean are linear): m + n + 1 floats, and no reduction of a
/// compact state (a tensor-scope reduction in pass 1 instead of one between the passes).
/// </summary>
[Optimizer(Name = "Declared factored second moment with a kept mean")]
[Hyperparameter("Lr", 1e-2)]
[Hyperparameter("Decay", -0.8)]
[Hyperparameter("Eps1", 1e-30, Range = HyperparameterRange.Positive)]
[State("r")]
[State("c")]
[State("s")]
[StepScalar("w", "pow(t, Decay)")]
[Update("let gg = g * g + Eps1")]
[Update("r = lerp(r, row_mean(gg), w)")]
[Update("c = lerp(c, col_mean(gg), w)")]
[Update("s = lerp(s, mean(gg), w)")]
[Update("p = p - Lr * g / sqrt(r * c / s)")]
public sealed partial class DeclaredFactoredKeptMean;

/// <summary>Every scoped reduction kind once, over g and over a per-element state s: row, column and block (3 and 5) sums, means, norms and maxima.</summary>
[Optimizer]
[Hyperparameter("Lr", 0.5)]
[State("s")]
[Update("s = s + g")]
[Update("let a = row_sum(g) - 0.5 * row_mean(s) + 0.25 * row_norm(g) - 0.125 * row_maxabs(s)")]
[Update("let b = col_sum(s) - 0.5 * col_mean(g) + 0.25 * col_norm(s) - 0.125 * col_maxabs(g)")]
[Update("let c = block_sum(g, 3) - 0.5 * block_mean(s, 5) + 0.25 * block_norm(g, 5) - 0.125 * block_maxabs(s, 3)")]
[Update("p = p - Lr * (0.01 * a + 0.02 * b + 0.03 * c + 0.001 * sum(g))")]
public sealed partial class DeclaredScopeKinds;

/// <summary>
/// The planner's choices for compact state: s is per tensor, r per row (its update reads the final s), and o is read
/// by p's update before its own assignment, so it stays per element (pass 2 must see the previous step's value).
/// </summary>
[Optimizer]
[Hyperparameter("Lr", 0.1)]
[State("s")]
[State("r")]
[State("o")]
[Update("s = lerp(s, mean(g * g), 0.5)")]
[Update("r = 0.5 * r + row_mean(g) * s")]
[Update("p = p - Lr * (r + o)")]
[Update("o = row_norm(g)")]
public sealed partial class DeclaredCompactChoices;

/// <summary>
/// Group and global reductions: the step is clipped by the global norm of g (every tensor of the layout), scaled by a
/// per-group running mean of g² (s: one value per tensor, the same within a group), and moved by every group and
/// global kind once.
/// </summary>
[Optimizer]
[Hyperparameter("Lr", 0.1)]
[Hyperparameter("MaxNorm", 1.0)]
[State("s")]
[Update("s = lerp(s, group_mean(g * g), 0.5)")]
[Update("let clip = min(1, MaxNorm / (global_norm(g) + 0.000001))")]
[Update("p = p - Lr * (g * clip / sqrt(s + 1) + 0.01 * group_maxabs(p) + 0.001 * (global_sum(g) + group_sum(g) + group_norm(g) + global_mean(g) + global_maxabs(g)))")]
public sealed partial class DeclaredGroupGlobal;

/// <summary>
/// Tensor reductions of compact states, reduced between the passes: b per block of 5 (the last block of a tensor may
/// be shorter), c per column; norm, sum, maxabs and mean read them as if per element (each value weighted by its
/// block's or column's elements).
/// </summary>
[Optimizer]
[Hyperparameter("Lr", 0.1)]
[State("b")]
[State("c")]
[Update("b = lerp(b, block_mean(g * g, 5), 0.5)")]
[Update("c = col_maxabs(g) + 0.5 * c")]
[Update("p = p - Lr * g * (norm(b) + sum(b) + maxabs(c) - mean(c))")]
public sealed partial class DeclaredOverStates;
