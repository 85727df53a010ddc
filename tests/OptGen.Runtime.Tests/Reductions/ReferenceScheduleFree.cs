using System;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Schedule-Free AdamW (Defazio et al., "The Road Less Scheduled"; facebookresearch/schedule_free
/// <c>AdamWScheduleFree</c>, the form since its commit 59ed9b6), written in the paper's variables x and z rather
/// than the library's in-place update of y. At step t (k = t − 1):
/// sched = (k+1)/warmup_steps while k &lt; warmup_steps, else 1; γ = lr·sched; lr_max ← max(lr_max, γ) (from −1);
/// weight = (k+1)^r · lr_max^weight_lr_power; weight_sum ← weight_sum + weight; c = weight/weight_sum (0 when the sum is 0);
/// y = (1−β₁)z + β₁x (what the parameters hold in train mode, where the gradient is taken);
/// v ← β₂v + (1−β₂)g²; ĝ = g/(√(v/(1−β₂ᵗ)) + ε) + λy; z ← z − γĝ; x ← (1−c)x + c·z.
/// z and x start at p₀. <see cref="ReductionReference.Parameters"/> is y (train mode); <see cref="Eval"/> is x, what
/// the library's eval() puts in the parameters (y + (1 − 1/β₁)(z − y) = x).
/// </summary>
internal sealed class ScheduleFreeReference : ReductionReference
{
    private readonly double _beta1, _beta2, _epsilon, _weightDecay, _r, _weightLrPower;
    private readonly int _warmupSteps;
    private readonly double[] _z, _v, _y;
    private double _lrMax = -1, _weightSum;

    public ScheduleFreeReference(int[][] shapes, ReadOnlySpan<float> p0, double beta1, double beta2, double epsilon, double weightDecay, int warmupSteps, double r, double weightLrPower)
        : base(shapes, p0)
    {
        (_beta1, _beta2, _epsilon, _weightDecay, _warmupSteps, _r, _weightLrPower) = (beta1, beta2, epsilon, weightDecay, warmupSteps, r, weightLrPower);
        _z = (double[])P.Clone();
        _v = new double[p0.Length];
        _y = new double[p0.Length];
    }

    /// <summary>y = (1−β₁)z + β₁x, the train-mode parameters.</summary>
    public override double[] Parameters
    {
        get
        {
            for (int i = 0; i < _y.Length; i++)
            {
                _y[i] = ((1 - _beta1) * _z[i]) + (_beta1 * P[i]);
            }

            return _y;
        }
    }

    /// <summary>x, the averaged iterate: the eval-mode parameters.</summary>
    public double[] Eval => P;

    /// <summary>z, the base sequence.</summary>
    public double[] Z => _z;

    /// <summary>The weight c of the last step's average (ckp1 in the library).</summary>
    public double LastAveragingWeight { get; private set; }

    protected override void Update(double[] g, double lr, int t)
    {
        int k = t - 1;
        double gamma = lr * (k < _warmupSteps ? (k + 1) / (double)_warmupSteps : 1.0);
        _lrMax = Math.Max(_lrMax, gamma);
        double weight = Math.Pow(k + 1, _r) * Math.Pow(_lrMax, _weightLrPower);
        _weightSum += weight;
        double c = _weightSum != 0 ? weight / _weightSum : 0;
        LastAveragingWeight = c;
        double bc2 = 1 - Math.Pow(_beta2, t);
        double[] y = Parameters;
        for (int i = 0; i < g.Length; i++)
        {
            _v[i] = (_beta2 * _v[i]) + ((1 - _beta2) * g[i] * g[i]);
            double normalized = (g[i] / (Math.Sqrt(_v[i] / bc2) + _epsilon)) + (_weightDecay * y[i]);
            _z[i] -= gamma * normalized;
            P[i] = ((1 - c) * P[i]) + (c * _z[i]);
        }
    }
}
