using System;
using System.Linq;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// torch.optim.Adafactor of PyTorch ≥ 2.5, the single-tensor path (torch/optim/_adafactor.py,
/// <c>_single_tensor_adafactor</c>), per tensor at step t:
/// G = ±g (− when maximizing); w = t^beta2_decay (the weight torch lerps with, its "one_minus_beta2_t");
/// ρ = min(lr, 1/√t); α = max(ε₂, ‖p‖/√numel)·ρ, taken before the decay p ← p(1 − lr·λ) (skipped when λ = 0).
/// A tensor of two or more dimensions is a stack of matrices over its last two (m rows of n): per matrix
/// R_i ← R_i + w(mean_j G²_ij − R_i), C_j ← C_j + w(mean_i G²_ij − C_j), V_ij = R_i·C_j / max(mean_i R_i, ε₁);
/// a vector keeps V ← V + w(G² − V). U = G / √max(V, ε₁²); p ← p − α/max(1, RMS(U)/d)·U.
/// ε₁ defaults to the float32 machine epsilon 2⁻²³. State: m + n floats per matrix, n per vector.
/// </summary>
internal sealed class AdafactorReference : ReductionReference
{
    /// <summary>torch.finfo(torch.float32).eps, ε₁ when the case gives null.</summary>
    public const double Float32Epsilon = 1.0 / (1 << 23);

    private readonly double _beta2Decay, _epsilon1, _epsilon2, _d, _weightDecay;
    private readonly bool _maximize;
    private readonly double[][] _rows, _columns, _full;
    private readonly double[] _update;

    public AdafactorReference(int[][] shapes, ReadOnlySpan<float> p0, double beta2Decay, double? epsilon1, double epsilon2, double d, double weightDecay, bool maximize)
        : base(shapes, p0)
    {
        (_beta2Decay, _epsilon1, _epsilon2, _d, _weightDecay, _maximize) = (beta2Decay, epsilon1 ?? Float32Epsilon, epsilon2, d, weightDecay, maximize);
        _rows = new double[shapes.Length][];
        _columns = new double[shapes.Length][];
        _full = new double[shapes.Length][];
        for (int k = 0; k < shapes.Length; k++)
        {
            if (shapes[k].Length >= 2)
            {
                int stack = shapes[k][..^2].Aggregate(1, (a, s) => a * s);
                _rows[k] = new double[stack * shapes[k][^2]];
                _columns[k] = new double[stack * shapes[k][^1]];
            }
            else
            {
                _full[k] = new double[shapes[k][0]];
            }
        }

        _update = new double[p0.Length];
    }

    /// <summary>The number of second-moment values kept (m + n per matrix, n per vector).</summary>
    public int StateLength => Enumerable.Range(0, Shapes.Length).Sum(k => _full[k]?.Length ?? (_rows[k].Length + _columns[k].Length));

    protected override void Update(double[] g, double lr, int t)
    {
        double w = Math.Pow(t, _beta2Decay);
        double rho = Math.Min(lr, 1 / Math.Sqrt(t));
        for (int k = 0; k < Spans.Length; k++)
        {
            (int start, int length) = Spans[k];
            Span<double> p = P.AsSpan(start, length), u = _update.AsSpan(start, length);
            Span<double> grad = g.AsSpan(start, length);
            if (_maximize)
            {
                for (int i = 0; i < length; i++)
                {
                    grad[i] = -grad[i];
                }
            }

            double alpha = Math.Max(_epsilon2, TensorSpans.Norm(p) / Math.Sqrt(length)) * rho;
            if (_weightDecay != 0)
            {
                for (int i = 0; i < length; i++)
                {
                    p[i] *= 1 - (lr * _weightDecay);
                }
            }

            if (_full[k] is double[] v)
            {
                for (int i = 0; i < length; i++)
                {
                    v[i] += w * ((grad[i] * grad[i]) - v[i]);
                    u[i] = grad[i] / Math.Sqrt(Math.Max(v[i], _epsilon1 * _epsilon1));
                }
            }
            else
            {
                Factored(grad, u, _rows[k], _columns[k], Shapes[k][^2], Shapes[k][^1], w);
            }

            double clip = Math.Max(1, TensorSpans.Norm(u) / (Math.Sqrt(length) * _d));
            for (int i = 0; i < length; i++)
            {
                p[i] -= alpha / clip * u[i];
            }
        }
    }

    /// <summary>Row and column factors of every m×n matrix of the stack, and U from them.</summary>
    private void Factored(ReadOnlySpan<double> grad, Span<double> u, double[] rows, double[] columns, int m, int n, double w)
    {
        for (int s = 0; s < rows.Length / m; s++)
        {
            ReadOnlySpan<double> gs = grad.Slice(s * m * n, m * n);
            Span<double> r = rows.AsSpan(s * m, m), c = columns.AsSpan(s * n, n);
            for (int i = 0; i < m; i++)
            {
                double sum = 0;
                for (int j = 0; j < n; j++)
                {
                    sum += gs[(i * n) + j] * gs[(i * n) + j];
                }

                r[i] += w * ((sum / n) - r[i]);
            }

            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int i = 0; i < m; i++)
                {
                    sum += gs[(i * n) + j] * gs[(i * n) + j];
                }

                c[j] += w * ((sum / m) - c[j]);
            }

            double rowMean = 0;
            foreach (double x in r)
            {
                rowMean += x;
            }

            double scale = Math.Max(rowMean / m, _epsilon1);
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double variance = r[i] * c[j] / scale;
                    u[(s * m * n) + (i * n) + j] = gs[(i * n) + j] / Math.Sqrt(Math.Max(variance, _epsilon1 * _epsilon1));
                }
            }
        }
    }
}

/// <summary>
/// Adam-mini as SCHEMA.md defines it: blocks of <c>block</c> consecutive elements inside each tensor (the last one
/// of a tensor may be shorter); v_b ← β₂v_b + (1−β₂)·mean over the block of g²; m ← β₁m + (1−β₁)g per element;
/// p ← p(1 − η·λ), then p ← p − η·(m/(1−β₁ᵗ)) / (√(v_b/(1−β₂ᵗ)) + ε).
/// </summary>
internal sealed class AdamMiniReference : ReductionReference
{
    private readonly double _beta1, _beta2, _epsilon, _weightDecay;
    private readonly int _block;
    private readonly double[] _m;
    private readonly double[][] _v;

    public AdamMiniReference(int[][] shapes, ReadOnlySpan<float> p0, double beta1, double beta2, double epsilon, double weightDecay, int block)
        : base(shapes, p0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(block, 1);
        (_beta1, _beta2, _epsilon, _weightDecay, _block) = (beta1, beta2, epsilon, weightDecay, block);
        _m = new double[p0.Length];
        _v = Spans.Select(s => new double[(s.Length + block - 1) / block]).ToArray();
    }

    /// <summary>The number of second moments kept: Σ over tensors of ⌈numel/block⌉.</summary>
    public int BlockCount => _v.Sum(v => v.Length);

    protected override void Update(double[] g, double lr, int t)
    {
        double bc1 = 1 - Math.Pow(_beta1, t), bc2 = 1 - Math.Pow(_beta2, t);
        for (int k = 0; k < Spans.Length; k++)
        {
            (int start, int length) = Spans[k];
            for (int b = 0; b < _v[k].Length; b++)
            {
                int from = start + (b * _block), to = Math.Min(from + _block, start + length);
                double squares = 0;
                for (int i = from; i < to; i++)
                {
                    squares += g[i] * g[i];
                }

                _v[k][b] = (_beta2 * _v[k][b]) + ((1 - _beta2) * squares / (to - from));
                double denominator = Math.Sqrt(_v[k][b] / bc2) + _epsilon;
                for (int i = from; i < to; i++)
                {
                    _m[i] = (_beta1 * _m[i]) + ((1 - _beta1) * g[i]);
                    P[i] *= 1 - (lr * _weightDecay);
                    P[i] -= lr * (_m[i] / bc1) / denominator;
                }
            }
        }
    }
}
