using System;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// LAMB (You et al., "Large Batch Optimization for Deep Learning", Algorithm 2) with Adam's bias correction, per
/// tensor: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², r = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε) + λp,
/// trust = ‖p‖/‖r‖ (1 when either norm is 0), p ← p − η·trust·r.
/// </summary>
internal sealed class LambReference(int[][] shapes, ReadOnlySpan<float> p0, double beta1, double beta2, double epsilon, double weightDecay)
    : ReductionReference(shapes, p0)
{
    private readonly double[] _m = new double[p0.Length], _v = new double[p0.Length], _r = new double[p0.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        double bc1 = 1 - Math.Pow(beta1, t), bc2 = 1 - Math.Pow(beta2, t);
        foreach ((int start, int length) in Spans)
        {
            for (int i = start; i < start + length; i++)
            {
                _m[i] = (beta1 * _m[i]) + ((1 - beta1) * g[i]);
                _v[i] = (beta2 * _v[i]) + ((1 - beta2) * g[i] * g[i]);
                _r[i] = (_m[i] / bc1 / (Math.Sqrt(_v[i] / bc2) + epsilon)) + (weightDecay * P[i]);
            }

            double pNorm = TensorSpans.Norm(P.AsSpan(start, length)), rNorm = TensorSpans.Norm(_r.AsSpan(start, length));
            double trust = pNorm > 0 && rNorm > 0 ? pNorm / rNorm : 1;
            for (int i = start; i < start + length; i++)
            {
                P[i] -= lr * trust * _r[i];
            }
        }
    }
}

/// <summary>
/// LARS (You et al., "Large Batch Training of Convolutional Networks"), per tensor:
/// local = tc·‖p‖/(‖g‖ + λ‖p‖) (1 when ‖p‖ or ‖g‖ is 0), b ← μb + η·local·(g + λp), p ← p − b.
/// </summary>
internal sealed class LarsReference(int[][] shapes, ReadOnlySpan<float> p0, double momentum, double weightDecay, double trustCoefficient)
    : ReductionReference(shapes, p0)
{
    private readonly double[] _b = new double[p0.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        foreach ((int start, int length) in Spans)
        {
            double pNorm = TensorSpans.Norm(P.AsSpan(start, length)), gNorm = TensorSpans.Norm(g.AsSpan(start, length));
            double local = pNorm > 0 && gNorm > 0 ? trustCoefficient * pNorm / (gNorm + (weightDecay * pNorm)) : 1;
            for (int i = start; i < start + length; i++)
            {
                _b[i] = (momentum * _b[i]) + (lr * local * (g[i] + (weightDecay * P[i])));
                P[i] -= _b[i];
            }
        }
    }
}
