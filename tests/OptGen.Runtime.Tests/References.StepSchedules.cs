using System;

namespace OptGen.Runtime.Tests;

/// <summary>
/// torch.optim.NAdam with PyTorch 2 semantics, from its documented algorithm: μₜ = β₁(1 − ½·0.96^(tψ)),
/// Πₜ = μ₁⋯μₜ, p ← p − η(1 − μₜ)/(1 − Πₜ)·g/d − η·μₜ₊₁/(1 − Πₜ·μₜ₊₁)·m/d, d = √(v/(1 − β₂ᵗ)) + ε; weight decay
/// L2 (g ← g + λp) or, <paramref name="decoupled"/> (PyTorch ≥ 2.1's decoupled_weight_decay), p ← p·(1 − ηλ) first.
/// </summary>
internal sealed class NAdamReference(int n, double lr, double b1, double b2, double eps, double psi, double wd = 0, bool maximize = false, bool decoupled = false) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _v = Zeros(n);
    private double _product = 1;

    public override void Step(float[] p, float[] g, int t)
    {
        double mu = b1 * (1 - (0.5 * Math.Pow(0.96, t * psi)));
        double muNext = b1 * (1 - (0.5 * Math.Pow(0.96, (t + 1) * psi)));
        _product *= mu;
        double bc2 = 1 - Math.Pow(b2, t);
        for (int i = 0; i < N; i++)
        {
            (double param, double grad) = WeightDecayTerm.Apply(p[i], maximize ? -g[i] : g[i], lr, wd, decoupled);
            _m[i] = (b1 * _m[i]) + ((1 - b1) * grad);
            _v[i] = (b2 * _v[i]) + ((1 - b2) * grad * grad);
            double d = Math.Sqrt(_v[i] / bc2) + eps;
            double update = (lr * (1 - mu) / (1 - _product) * grad / d) + (lr * muNext / (1 - (_product * muNext)) * _m[i] / d);
            p[i] = (float)(param - update);
        }
    }
}

/// <summary>
/// torch.optim.RAdam: ρ∞ = 2/(1 − β₂) − 1, ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ); when ρₜ &gt; 5 (or another threshold) the
/// step is η·rₜ·m̂·√(1 − β₂ᵗ)/(√v + ε) (or η·rₜ·m̂/(√(v/(1 − β₂ᵗ)) + ε) with ε after the correction), else η·m̂,
/// with m̂ = m/(1 − β₁ᵗ); weight decay L2 or, <paramref name="decoupled"/>, p ← p·(1 − ηλ) first.
/// </summary>
internal sealed class RAdamReference(int n, double lr, double b1, double b2, double eps, double wd = 0, bool maximize = false, double threshold = 5, bool epsAfterCorrection = false, bool decoupled = false) : Reference(n)
{
    private readonly double[] _m = Zeros(n), _v = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        double bc1 = 1 - Math.Pow(b1, t), bc2 = 1 - Math.Pow(b2, t);
        double rhoInf = (2 / (1 - b2)) - 1;
        double rhoT = rhoInf - (2 * t * Math.Pow(b2, t) / bc2);
        for (int i = 0; i < N; i++)
        {
            (double param, double grad) = WeightDecayTerm.Apply(p[i], maximize ? -g[i] : g[i], lr, wd, decoupled);
            _m[i] = (b1 * _m[i]) + ((1 - b1) * grad);
            _v[i] = (b2 * _v[i]) + ((1 - b2) * grad * grad);
            double mHat = _m[i] / bc1;
            double update;
            if (rhoT > threshold)
            {
                double rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                update = epsAfterCorrection
                    ? lr * mHat * rect / (Math.Sqrt(_v[i] / bc2) + eps)
                    : lr * mHat * rect * Math.Sqrt(bc2) / (Math.Sqrt(_v[i]) + eps);
            }
            else
            {
                update = lr * mHat;
            }

            p[i] = (float)(param - update);
        }
    }
}

/// <summary>torch.optim's two weight decays, before the rule's update.</summary>
internal static class WeightDecayTerm
{
    /// <summary>
    /// The parameter and gradient the update uses: L2 adds λp to the gradient; decoupled (AdamW, and NAdam and RAdam
    /// with decoupled_weight_decay) multiplies the parameter by 1 − ηλ and leaves the gradient alone.
    /// </summary>
    public static (double Parameter, double Gradient) Apply(double p, double g, double lr, double wd, bool decoupled) =>
        decoupled ? (p * (1 - (lr * wd)), g) : (p, g + (wd * p));
}

/// <summary>torch.optim.Adadelta: v ← ρv + (1 − ρ)g², u = √(Δ + ε)/√(v + ε)·g, Δ ← ρΔ + (1 − ρ)u², p ← p − η·u.</summary>
internal sealed class AdadeltaReference(int n, double lr, double rho, double eps, double wd = 0, bool maximize = false) : Reference(n)
{
    private readonly double[] _v = Zeros(n), _delta = Zeros(n);

    public override void Step(float[] p, float[] g, int t)
    {
        for (int i = 0; i < N; i++)
        {
            double grad = (maximize ? -g[i] : g[i]) + (wd * p[i]);
            _v[i] = (rho * _v[i]) + ((1 - rho) * grad * grad);
            double u = Math.Sqrt(_delta[i] + eps) / Math.Sqrt(_v[i] + eps) * grad;
            _delta[i] = (rho * _delta[i]) + ((1 - rho) * u * u);
            p[i] = (float)(p[i] - (lr * u));
        }
    }
}
