using System;

namespace OptGen.Runtime.Tests;

// Float64 references of the expression-rule catalog, written from the papers' algorithms (not from the rules'
// strings or the generated code).

/// <summary>Lion (Chen et al., 2023, Algorithm 2): c = β₁m + (1 − β₁)g; p ← p − η(sign(c) + λp); m ← β₂m + (1 − β₂)g.</summary>
internal sealed class LionReference(int n, double lr, double b1, double b2, double wd) : Reference(n)
{
    private readonly double[] _m = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            double c = (b1 * _m[i]) + ((1 - b1) * g[i]);
            p[i] = (float)(p[i] - (lr * (Math.Sign(c) + (wd * p[i]))));
            _m[i] = (b2 * _m[i]) + ((1 - b2) * g[i]);
        }
    }
}

/// <summary>AdaBelief (Zhuang et al., 2020, Algorithm 2) with bias correction, as adabelief-pytorch.</summary>
internal sealed class AdaBeliefReference(int n, double lr, double b1, double b2, double eps) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _s = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        for (int i = 0; i < N; i++)
        {
            _m[i] = (b1 * _m[i]) + ((1 - b1) * g[i]);
            double d = g[i] - _m[i];
            _s[i] = (b2 * _s[i]) + ((1 - b2) * d * d) + eps;
            p[i] = (float)(p[i] - (lr * (_m[i] / bc1) / (Math.Sqrt(_s[i] / bc2) + eps)));
        }
    }
}

/// <summary>Signum (Bernstein et al., 2018): m ← βm + (1 − β)g; p ← p − η·sign(m).</summary>
internal sealed class SignumReference(int n, double lr, double beta) : Reference(n)
{
    private readonly double[] _m = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _m[i] = (beta * _m[i]) + ((1 - beta) * g[i]);
            p[i] = (float)(p[i] - (lr * Math.Sign(_m[i])));
        }
    }
}

/// <summary>
/// Adan (Xie et al., 2022, Algorithm 1, as the official PyTorch implementation with bias correction and the
/// proximal weight decay): Δₜ = gₜ − gₜ₋₁ (Δ₁ = 0), m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)Δ,
/// n ← β₃n + (1 − β₃)(g + β₂Δ)², p ← (p − η(m̂ + β₂v̂)/(√n̂ + ε)) / (1 + ηλ).
/// </summary>
internal sealed class AdanReference(int n, double lr, double b1, double b2, double b3, double eps, double wd) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _v = Zeros(n), _n = Zeros(n), _previous = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t), bc3 = 1 - Math.Pow(b3, t);
        for (int i = 0; i < N; i++)
        {
            double diff = t == 1 ? 0 : g[i] - _previous[i];
            _previous[i] = g[i];
            _m[i] = (b1 * _m[i]) + ((1 - b1) * g[i]);
            _v[i] = (b2 * _v[i]) + ((1 - b2) * diff);
            double u = g[i] + (b2 * diff);
            _n[i] = (b3 * _n[i]) + ((1 - b3) * u * u);
            double update = ((_m[i] / bc1) + (b2 * _v[i] / bc2)) / (Math.Sqrt(_n[i] / bc3) + eps);
            p[i] = (float)((p[i] - (lr * update)) / (1 + (lr * wd)));
        }
    }
}
