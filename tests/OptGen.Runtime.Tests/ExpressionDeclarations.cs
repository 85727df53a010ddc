namespace OptGen.Runtime.Tests;

/// <summary>
/// Every operator of the expression language, one state per operator over the inputs (p, g), so a test can call the
/// kernel's scalar and Vector128/256/512 overloads on the same values and compare lane by lane. p is left as it is.
/// </summary>
[Optimizer]
[Hyperparameter("W", 0.25)]
[State("sum")]
[State("dif")]
[State("prd")]
[State("quo")]
[State("neg")]
[State("sq")]
[State("rs")]
[State("ab")]
[State("sg")]
[State("mn")]
[State("mx")]
[State("cl")]
[State("le")]
[State("ex")]
[State("lg")]
[State("lt")]
[State("lte")]
[State("gt")]
[State("gte")]
[State("eq")]
[State("ne")]
[State("sel")]
[State("cond")]
[Update("sum = p + g")]
[Update("dif = p - g")]
[Update("prd = p * g")]
[Update("quo = p / g")]
[Update("neg = -g")]
[Update("sq = sqrt(g)")]
[Update("rs = rsqrt(g)")]
[Update("ab = abs(g)")]
[Update("sg = sign(g)")]
[Update("mn = min(p, g)")]
[Update("mx = max(p, g)")]
[Update("cl = clamp(g, -1, p)")]
[Update("le = lerp(p, g, W)")]
[Update("ex = exp(g)")]
[Update("lg = log(g)")]
[Update("lt = p < g ? 1 : 0")]
[Update("lte = p <= g ? 1 : 0")]
[Update("gt = p > g ? 1 : 0")]
[Update("gte = p >= g ? 1 : 0")]
[Update("eq = p == g ? 1 : 0")]
[Update("ne = p != g ? 1 : 0")]
[Update("sel = select(p > g, p, g)")]
[Update("cond = g < 0 ? p : g > 1 ? -p : 2 * g")]
[Update("p = p")]
public sealed partial class AllOperators;

/// <summary>
/// Traffic accounting: <c>last</c> is only written (never loaded), <c>zero</c> only read (never stored), <c>m</c> both.
/// </summary>
[Optimizer]
[Hyperparameter("LearningRate", 0.1, Range = HyperparameterRange.NonNegative)]
[State("m", Name = "Average")]
[State("last", Name = "LastUpdate")]
#pragma warning disable OPTG0141 // zero is read and never written on purpose: the test checks its store is skipped
[State("zero", Name = "Zero")]
#pragma warning restore OPTG0141
[Update("m = 0.5 * m + 0.5 * g")]
[Update("last = LearningRate * m + zero")]
[Update("p = p - last")]
public sealed partial class PartialTraffic;
