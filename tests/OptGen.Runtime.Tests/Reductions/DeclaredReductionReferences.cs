using System;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// The declared rules of DeclaredReductions.cs (and the attribute LAMB and LARS of AttributeReductions.cs) with their test hyperparameters, and their float64 references with the
/// same values: one mapping for the CPU tests (DeclaredReductionTests) and the GPU tests (ReductionDeclaredGpuTests).
/// </summary>
internal static class DeclaredRules
{
    public static ReductionOptimizer Create(string rule, ParameterLayout layout, double learningRate) => rule switch
    {
        "lamb" => new DeclaredLamb(layout) { Lr = learningRate, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-6, Wd = 0.01 },
        "novograd" => new DeclaredNovoGrad(layout) { Lr = learningRate, Beta1 = 0.95, Beta2 = 0.98, Eps = 1e-8, Wd = 0.001 },
        "kinds" => new DeclaredReductionKinds(layout) { Lr = learningRate },
        "older_read" => new DeclaredOlderRead(layout) { Lr = learningRate, Beta = 0.9 },
        "decay_first" => new DeclaredDecayFirst(layout) { Lr = learningRate, Wd = 0.5 },
        "attribute_lamb" => new AttributeLamb(layout) { LearningRate = learningRate, Beta1 = 0.9, Beta2 = 0.99, Epsilon = 1e-6, WeightDecay = 0.01 },
        "attribute_lars" => new AttributeLars(layout) { LearningRate = learningRate, Momentum = 0.9, WeightDecay = 0.01, TrustCoefficient = 0.02 },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    public static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => rule switch
    {
        "lamb" => new LambReference(shapes, p0, 0.9, 0.99, 1e-6, 0.01),
        "novograd" => new NovoGradReference(shapes, p0, 0.95, 0.98, 1e-8, 0.001),
        "kinds" => new ReductionKindsReference(shapes, p0),
        "older_read" => new OlderReadReference(shapes, p0, 0.9),
        "decay_first" => new DecayFirstReference(shapes, p0, 0.5),
        "attribute_lamb" => new LambReference(shapes, p0, 0.9, 0.99, 1e-6, 0.01),
        "attribute_lars" => new LarsReference(shapes, p0, 0.9, 0.01, 0.02),
        _ => throw new ArgumentException(rule, nameof(rule)),
    };
}

/// <summary>
/// NovoGrad (Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep
/// Networks", 2019, Algorithm 1), per tensor l: v₁ = ‖g₁‖², vₜ = β₂vₜ₋₁ + (1 − β₂)‖gₜ‖²;
/// mₜ = β₁mₜ₋₁ + (gₜ/√(vₜ + ε) + λpₜ); pₜ₊₁ = pₜ − η·mₜ. Float64 throughout, from the paper's definition.
/// </summary>
internal sealed class NovoGradReference(int[][] shapes, ReadOnlySpan<float> p0, double beta1, double beta2, double epsilon, double weightDecay)
    : ReductionReference(shapes, p0)
{
    private readonly double[] _m = new double[p0.Length];
    private readonly double[] _v = new double[shapes.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        for (int k = 0; k < Spans.Length; k++)
        {
            (int start, int length) = Spans[k];
            double squares = 0;
            for (int i = start; i < start + length; i++)
            {
                squares += g[i] * g[i];
            }

            _v[k] = t == 1 ? squares : (beta2 * _v[k]) + ((1 - beta2) * squares);
            double denominator = Math.Sqrt(_v[k] + epsilon);
            for (int i = start; i < start + length; i++)
            {
                _m[i] = (beta1 * _m[i]) + (g[i] / denominator) + (weightDecay * P[i]);
                P[i] -= lr * _m[i];
            }
        }
    }
}

/// <summary>
/// The rule <see cref="DeclaredReductionKinds"/> from its statements, per tensor, in float64: s ← s + g;
/// p ← p − η·mean(g) + 0.001·max|g|·Σs (Σs over the updated s).
/// </summary>
internal sealed class ReductionKindsReference(int[][] shapes, ReadOnlySpan<float> p0) : ReductionReference(shapes, p0)
{
    private readonly double[] _s = new double[p0.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        foreach ((int start, int length) in Spans)
        {
            double sum = 0, sumS = 0, maxAbs = 0;
            for (int i = start; i < start + length; i++)
            {
                _s[i] += g[i];
                sum += g[i];
                sumS += _s[i];
                maxAbs = Math.Max(maxAbs, Math.Abs(g[i]));
            }

            double mean = sum / length;
            for (int i = start; i < start + length; i++)
            {
                P[i] = P[i] - (lr * mean) + (0.001 * maxAbs * sumS);
            }
        }
    }
}

/// <summary><see cref="DeclaredOlderRead"/> in float64, per tensor: n = ‖g‖; p ← p − η·m/(n + 1) with the old m; m ← βm + g.</summary>
internal sealed class OlderReadReference(int[][] shapes, ReadOnlySpan<float> p0, double beta) : ReductionReference(shapes, p0)
{
    private readonly double[] _m = new double[p0.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        foreach ((int start, int length) in Spans)
        {
            double squares = 0;
            for (int i = start; i < start + length; i++)
            {
                squares += g[i] * g[i];
            }

            double n = Math.Sqrt(squares);
            for (int i = start; i < start + length; i++)
            {
                P[i] -= lr * _m[i] / (n + 1);
                _m[i] = (beta * _m[i]) + g[i];
            }
        }
    }
}

/// <summary><see cref="DeclaredDecayFirst"/> in float64, per tensor: p ← p(1 − ηλ); n = ‖p‖ of the decayed p; p ← p − η·n·g.</summary>
internal sealed class DecayFirstReference(int[][] shapes, ReadOnlySpan<float> p0, double weightDecay) : ReductionReference(shapes, p0)
{
    protected override void Update(double[] g, double lr, int t)
    {
        foreach ((int start, int length) in Spans)
        {
            double squares = 0;
            for (int i = start; i < start + length; i++)
            {
                P[i] *= 1 - (lr * weightDecay);
                squares += P[i] * P[i];
            }

            double n = Math.Sqrt(squares);
            for (int i = start; i < start + length; i++)
            {
                P[i] -= lr * n * g[i];
            }
        }
    }
}
