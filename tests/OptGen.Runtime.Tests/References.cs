using System;

namespace OptGen.Runtime.Tests;

/// <summary>
/// Float64 reference optimizers written from the formulas (the lecture notes and torch.optim's documented
/// algorithms), not from the generated code. State is kept in double; the parameters are float32 between steps,
/// as they are in memory.
/// </summary>
internal abstract class Reference
{
    protected Reference(int n) => N = n;

    protected int N { get; }

    public abstract void Step(float[] p, float[] g, int t);

    protected static double[] Zeros(int n) => new double[n];
}

internal sealed class AdamReference(int n, double lr, double b1, double b2, double eps, double wd = 0, bool decoupled = false, bool amsgrad = false, bool maximize = false, bool epsBeforeCorrection = false, bool epsInside = false, bool decoupledEpsilon = false) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _v = Zeros(n), _vmax = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        for (int i = 0; i < N; i++)
        {
            (double param, double grad) = WeightDecayTerm.Apply(p[i], maximize ? -g[i] : g[i], lr, wd, decoupled);

            _m[i] = (b1 * _m[i]) + ((1 - b1) * grad);
            _v[i] = (b2 * _v[i]) + ((1 - b2) * grad * grad);
            _vmax[i] = Math.Max(_vmax[i], _v[i]);
            double v = amsgrad ? _vmax[i] : _v[i];
            param -= epsBeforeCorrection ? lr * Math.Sqrt(bc2) / bc1 * _m[i] / (Math.Sqrt(v) + eps)
                : epsInside ? lr * (_m[i] / bc1) / Math.Sqrt((v / bc2) + eps)
                : decoupledEpsilon ? lr * (_m[i] / bc1) / (1 + (Math.Sqrt(v / bc2) / eps))
                : lr * (_m[i] / bc1) / (Math.Sqrt(v / bc2) + eps);
            p[i] = (float)param;
        }
    }
}

/// <summary>The lecture's Adam: averages with weight 1/min(t, N); plain or with decoupled ε (η = ε·η₀).</summary>
internal sealed class AdamMinTReference(int n, double ng, double ns, double eta, double eps, bool decoupledEpsilon = false) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _s = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double cg = 1.0 / Math.Min(t, ng), cs = 1.0 / Math.Min(t, ns);
        for (int i = 0; i < N; i++)
        {
            _m[i] = ((1 - cg) * _m[i]) + (cg * g[i]);
            _s[i] = ((1 - cs) * _s[i]) + (cs * g[i] * g[i]);
            double update = decoupledEpsilon
                ? eta * _m[i] / (1 + (Math.Sqrt(_s[i]) / eps))
                : eta * _m[i] / (Math.Sqrt(_s[i]) + eps);
            p[i] = (float)(p[i] - update);
        }
    }
}

internal sealed class SgdReference(int n, double lr, double momentum, double dampening = 0, bool nesterov = false, double wd = 0, bool maximize = false) : Reference(n)
{
    private readonly double[] _b = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            double d = (maximize ? -g[i] : g[i]) + (wd * p[i]);
            if (momentum != 0 || dampening != 0)
            {
                _b[i] = t == 1 ? d : (momentum * _b[i]) + ((1 - dampening) * d);
                d = nesterov ? d + (momentum * _b[i]) : _b[i];
            }

            p[i] = (float)(p[i] - (lr * d));
        }
    }
}

internal sealed class RmsPropReference(int n, double lr, double alpha, double eps, bool centered = false, double momentum = 0) : Reference(n)
{
    private readonly double[] _v = Zeros(n), _gAvg = Zeros(n), _b = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _v[i] = (alpha * _v[i]) + ((1 - alpha) * g[i] * g[i]);
            double s = _v[i];
            if (centered)
            {
                _gAvg[i] = (alpha * _gAvg[i]) + ((1 - alpha) * g[i]);
                s -= _gAvg[i] * _gAvg[i];
            }

            double u = g[i] / (Math.Sqrt(s) + eps);
            if (momentum > 0)
            {
                _b[i] = (momentum * _b[i]) + u;
                u = _b[i];
            }

            p[i] = (float)(p[i] - (lr * u));
        }
    }
}

/// <summary>The lecture's RMSProp: s ← (1 − 1/N)s + g²/N; ε inside or outside the root, or power 1 (s + ε).</summary>
internal sealed class LectureRmsPropReference(int n, double ns, double eta, double eps, bool inside, bool powerOne = false) : Reference(n)
{
    private readonly double[] _s = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _s[i] = ((1 - (1 / ns)) * _s[i]) + (g[i] * g[i] / ns);
            double d = powerOne ? _s[i] + eps : inside ? Math.Sqrt(_s[i] + eps) : Math.Sqrt(_s[i]) + eps;
            p[i] = (float)(p[i] - (eta * g[i] / d));
        }
    }
}

internal sealed class ClassicMomentumReference(int n, double length, double eta) : Reference(n)
{
    private readonly double[] _v = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _v[i] = ((1 - (1 / length)) * _v[i]) + (eta * g[i]);
            p[i] = (float)(p[i] - _v[i]);
        }
    }
}

internal sealed class EmaMomentumReference(int n, double length, double etaPrime) : Reference(n)
{
    private readonly double[] _mu = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _mu[i] = ((1 - (1 / length)) * _mu[i]) + (g[i] / length);
            p[i] = (float)(p[i] - (etaPrime * _mu[i]));
        }
    }
}

internal sealed class AdagradReference(int n, double lr, double lrDecay, double initial, double eps, double wd = 0, bool maximize = false) : Reference(n)
{
    private readonly double[] _sum = Zeros(n);
    private bool _started;

    public override void Step(float[] p, float[] g, int t)
    {
        if (!_started)
        {
            Array.Fill(_sum, initial);
            _started = true;
        }

        double clr = lr / (1 + ((t - 1) * lrDecay));
        for (int i = 0; i < N; i++)
        {
            double grad = (maximize ? -g[i] : g[i]) + (wd * p[i]);
            _sum[i] += grad * grad;
            p[i] = (float)(p[i] - (clr * grad / (Math.Sqrt(_sum[i]) + eps)));
        }
    }
}

/// <summary>The notes' Adagrad as a root mean square: σ = √((1/t)·Σ g²), p ← p − η g/σ with 0/0 := 0.</summary>
internal sealed class RmsAdagradReference(int n, double eta) : Reference(n)
{
    private readonly double[] _sum = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _sum[i] += g[i] * g[i];
            double sigma = Math.Sqrt(_sum[i] / t);
            p[i] = (float)(p[i] - (sigma == 0 ? 0 : eta * g[i] / sigma));
        }
    }
}

/// <summary>The notes' RMSProp: σ₁ = |g₁|, σₜ = √(ασ² + (1 − α)g²), p ← p − η g/σ with 0/0 := 0.</summary>
internal sealed class FirstSampleRmsPropReference(int n, double alpha, double eta) : Reference(n)
{
    private readonly double[] _sigma = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            _sigma[i] = t == 1 ? Math.Abs(g[i]) : Math.Sqrt((alpha * _sigma[i] * _sigma[i]) + ((1 - alpha) * g[i] * g[i]));
            p[i] = (float)(p[i] - (_sigma[i] == 0 ? 0 : eta * g[i] / _sigma[i]));
        }
    }
}

internal sealed class AdamaxReference(int n, double lr, double b1, double b2, double eps, double wd = 0, bool maximize = false) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _u = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double clr = lr / (1 - Math.Pow(b1, t));
        for (int i = 0; i < N; i++)
        {
            double grad = (maximize ? -g[i] : g[i]) + (wd * p[i]);
            _m[i] = (b1 * _m[i]) + ((1 - b1) * grad);
            _u[i] = Math.Max(b2 * _u[i], Math.Abs(grad) + eps);
            p[i] = (float)(p[i] - (clr * _m[i] / _u[i]));
        }
    }
}
