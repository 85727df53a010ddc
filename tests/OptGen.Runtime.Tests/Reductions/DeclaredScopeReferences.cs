using System;
using System.Linq;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>The declared scoped rules (DeclaredScopes.cs) by name, with the hyperparameters their tests use, and their float64 references (one place for the CPU and the GPU tests).</summary>
internal static class DeclaredScopeRules
{
    public static ReductionOptimizer Create(string rule, ParameterLayout layout, double learningRate) => rule switch
    {
        "adam_mini" => new DeclaredAdamMini(layout) { Lr = learningRate, Beta1 = 0.9, Beta2 = 0.99, Eps = 1e-8, Wd = 0.1 },
        "factored" => new DeclaredFactored(layout) { Lr = learningRate, Decay = -0.8, Eps1 = 1e-30 },
        "factored_kept_mean" => new DeclaredFactoredKeptMean(layout) { Lr = learningRate, Decay = -0.8, Eps1 = 1e-30 },
        "scope_kinds" => new DeclaredScopeKinds(layout) { Lr = learningRate },
        "novograd" => new DeclaredNovoGrad(layout) { Lr = learningRate, Beta1 = 0.95, Beta2 = 0.98, Eps = 1e-8, Wd = 0.001 },
        "compact_choices" => new DeclaredCompactChoices(layout) { Lr = learningRate },
        "group_global" => new DeclaredGroupGlobal(layout) { Lr = learningRate, MaxNorm = 2 },
        "over_states" => new DeclaredOverStates(layout) { Lr = learningRate },
        _ => throw new ArgumentException(rule, nameof(rule)),
    };

    public static ReductionReference Reference(string rule, int[][] shapes, float[] p0) => rule switch
    {
        "adam_mini" => new AdamMiniReference(shapes, p0, 0.9, 0.99, 1e-8, 0.1, 16),
        "factored" or "factored_kept_mean" => new FactoredReference(shapes, p0, -0.8, 1e-30),
        "scope_kinds" => new ScopeKindsReference(shapes, p0),
        "novograd" => new NovoGradReference(shapes, p0, 0.95, 0.98, 1e-8, 0.001),
        "compact_choices" => new CompactChoicesReference(shapes, p0),
        "group_global" => new GroupGlobalReference(shapes, p0, new int[shapes.Length], 2),
        "over_states" => new OverStatesReference(shapes, p0),
        _ => throw new ArgumentException(rule, nameof(rule)),
    };
}

/// <summary>Rows, columns and blocks of one tensor of the flat vector, as docs/expressions.md defines them: a tensor is a stack of m × n matrices over its last two dimensions, a vector of n is one 1 × n matrix.</summary>
internal readonly record struct TensorGrid(int Start, int Length, int Matrices, int Rows, int Columns)
{
    public static TensorGrid Of(int[] shape, (int Start, int Length) span)
    {
        if (shape.Length == 1)
        {
            return new TensorGrid(span.Start, span.Length, 1, 1, shape[0]);
        }

        int matrices = 1;
        for (int d = 0; d < shape.Length - 2; d++)
        {
            matrices *= shape[d];
        }

        return new TensorGrid(span.Start, span.Length, matrices, shape[^2], shape[^1]);
    }

    /// <summary>The row of element i (0 … Length − 1) over all matrices.</summary>
    public int RowOf(int i) => i / Columns;

    /// <summary>The column of element i over all matrices (matrix · n + column).</summary>
    public int ColumnOf(int i) => (i / (Rows * Columns) * Columns) + (i % Columns);

    /// <summary>kind over the elements x[Start + i] for which key(i) == segment, for every segment of count.</summary>
    public double[] Reduce(double[] x, Func<int, int> key, int count, string kind)
    {
        double[] acc = new double[count];
        int[] n = new int[count];
        for (int i = 0; i < Length; i++)
        {
            int s = key(i);
            double v = x[Start + i];
            acc[s] = kind switch
            {
                "norm" => acc[s] + (v * v),
                "maxabs" => Math.Max(acc[s], Math.Abs(v)),
                _ => acc[s] + v,
            };
            n[s]++;
        }

        for (int s = 0; s < count; s++)
        {
            acc[s] = kind switch
            {
                "norm" => Math.Sqrt(acc[s]),
                "mean" => n[s] == 0 ? 0 : acc[s] / n[s],
                _ => acc[s],
            };
        }

        return acc;
    }

    public double[] PerRow(double[] x, string kind) => Reduce(x, RowOf, Matrices * Rows, kind);

    public double[] PerColumn(double[] x, string kind) => Reduce(x, ColumnOf, Matrices * Columns, kind);

    public double[] PerBlock(double[] x, int block, string kind) => Reduce(x, i => i / block, (Length + block - 1) / block, kind);
}

/// <summary>
/// <see cref="DeclaredFactored"/> from its definition in float64: per tensor, R and C as written, V_ij = R_i·C_j/mean(R)
/// (mean over the tensor's elements of R read per element, i.e. over all its rows), p ← p − η·g/√V.
/// </summary>
internal sealed class FactoredReference : ReductionReference
{
    private readonly double _decay, _eps1;
    private readonly double[][] _r, _c;
    private readonly TensorGrid[] _grids;

    public FactoredReference(int[][] shapes, ReadOnlySpan<float> p0, double decay, double eps1)
        : base(shapes, p0)
    {
        (_decay, _eps1) = (decay, eps1);
        _grids = new TensorGrid[shapes.Length];
        _r = new double[shapes.Length][];
        _c = new double[shapes.Length][];
        for (int k = 0; k < shapes.Length; k++)
        {
            _grids[k] = TensorGrid.Of(shapes[k], Spans[k]);
            _r[k] = new double[_grids[k].Matrices * _grids[k].Rows];
            _c[k] = new double[_grids[k].Matrices * _grids[k].Columns];
        }
    }

    /// <summary>The floats the rule keeps: m + n per matrix (R, C), as the catalog's Adafactor.</summary>
    public int StateLength
    {
        get
        {
            int n = 0;
            for (int k = 0; k < _grids.Length; k++)
            {
                n += _r[k].Length + _c[k].Length;
            }

            return n;
        }
    }

    protected override void Update(double[] g, double lr, int t)
    {
        double w = Math.Pow(t, _decay);
        double[] gg = new double[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            gg[i] = (g[i] * g[i]) + _eps1;
        }

        for (int k = 0; k < _grids.Length; k++)
        {
            TensorGrid grid = _grids[k];
            double[] rows = grid.PerRow(gg, "mean"), cols = grid.PerColumn(gg, "mean");
            for (int i = 0; i < rows.Length; i++)
            {
                _r[k][i] += w * (rows[i] - _r[k][i]);
            }

            for (int j = 0; j < cols.Length; j++)
            {
                _c[k][j] += w * (cols[j] - _c[k][j]);
            }

            double meanR = 0;
            for (int i = 0; i < grid.Length; i++)
            {
                meanR += _r[k][grid.RowOf(i)] / grid.Length;
            }

            for (int i = 0; i < grid.Length; i++)
            {
                double v = _r[k][grid.RowOf(i)] * _c[k][grid.ColumnOf(i)] / meanR;
                P[grid.Start + i] -= lr * g[grid.Start + i] / Math.Sqrt(v);
            }
        }
    }
}

/// <summary><see cref="DeclaredScopeKinds"/> from its statements in float64.</summary>
internal sealed class ScopeKindsReference : ReductionReference
{
    private readonly double[] _s;
    private readonly TensorGrid[] _grids;

    public ScopeKindsReference(int[][] shapes, ReadOnlySpan<float> p0)
        : base(shapes, p0)
    {
        _s = new double[p0.Length];
        _grids = new TensorGrid[shapes.Length];
        for (int k = 0; k < shapes.Length; k++)
        {
            _grids[k] = TensorGrid.Of(shapes[k], Spans[k]);
        }
    }

    protected override void Update(double[] g, double lr, int t)
    {
        for (int i = 0; i < g.Length; i++)
        {
            _s[i] += g[i];
        }

        foreach (TensorGrid x in _grids)
        {
            double[] rowSum = x.PerRow(g, "sum"), rowMean = x.PerRow(_s, "mean"), rowNorm = x.PerRow(g, "norm"), rowMax = x.PerRow(_s, "maxabs");
            double[] colSum = x.PerColumn(_s, "sum"), colMean = x.PerColumn(g, "mean"), colNorm = x.PerColumn(_s, "norm"), colMax = x.PerColumn(g, "maxabs");
            double[] b3Sum = x.PerBlock(g, 3, "sum"), b5Mean = x.PerBlock(_s, 5, "mean"), b5Norm = x.PerBlock(g, 5, "norm"), b3Max = x.PerBlock(_s, 3, "maxabs");
            double sum = x.Reduce(g, _ => 0, 1, "sum")[0];
            for (int i = 0; i < x.Length; i++)
            {
                int r = x.RowOf(i), c = x.ColumnOf(i);
                double a = rowSum[r] - (0.5 * rowMean[r]) + (0.25 * rowNorm[r]) - (0.125 * rowMax[r]);
                double b = colSum[c] - (0.5 * colMean[c]) + (0.25 * colNorm[c]) - (0.125 * colMax[c]);
                double d = b3Sum[i / 3] - (0.5 * b5Mean[i / 5]) + (0.25 * b5Norm[i / 5]) - (0.125 * b3Max[i / 3]);
                P[x.Start + i] -= lr * ((0.01 * a) + (0.02 * b) + (0.03 * d) + (0.001 * sum));
            }
        }
    }
}

/// <summary><see cref="DeclaredCompactChoices"/> from its statements in float64, per tensor: s ← s + ½(mean g² − s); r_i ← ½r_i + rowmean_i(g)·s; p ← p − η(r_i + o) with the previous o; o ← ‖row_i(g)‖.</summary>
internal sealed class CompactChoicesReference : ReductionReference
{
    private readonly TensorGrid[] _grids;
    private readonly double[] _s;
    private readonly double[][] _r;
    private readonly double[] _o;

    public CompactChoicesReference(int[][] shapes, ReadOnlySpan<float> p0)
        : base(shapes, p0)
    {
        _grids = new TensorGrid[shapes.Length];
        _s = new double[shapes.Length];
        _r = new double[shapes.Length][];
        _o = new double[p0.Length];
        for (int k = 0; k < shapes.Length; k++)
        {
            _grids[k] = TensorGrid.Of(shapes[k], Spans[k]);
            _r[k] = new double[_grids[k].Matrices * _grids[k].Rows];
        }
    }

    protected override void Update(double[] g, double lr, int t)
    {
        double[] squares = new double[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            squares[i] = g[i] * g[i];
        }

        for (int k = 0; k < _grids.Length; k++)
        {
            TensorGrid x = _grids[k];
            _s[k] += 0.5 * (x.Reduce(squares, _ => 0, 1, "mean")[0] - _s[k]);
            double[] rowMean = x.PerRow(g, "mean"), rowNorm = x.PerRow(g, "norm");
            for (int i = 0; i < _r[k].Length; i++)
            {
                _r[k][i] = (0.5 * _r[k][i]) + (rowMean[i] * _s[k]);
            }

            for (int i = 0; i < x.Length; i++)
            {
                P[x.Start + i] -= lr * (_r[k][x.RowOf(i)] + _o[x.Start + i]);
                _o[x.Start + i] = rowNorm[x.RowOf(i)];
            }
        }
    }
}

/// <summary><see cref="DeclaredGroupGlobal"/> from its statements in float64; <paramref name="groups"/>[k] is tensor k's group.</summary>
internal sealed class GroupGlobalReference(int[][] shapes, ReadOnlySpan<float> p0, int[] groups, double maxNorm) : ReductionReference(shapes, p0)
{
    private readonly double[] _s = new double[shapes.Length];

    protected override void Update(double[] g, double lr, int t)
    {
        double globalSum = 0, globalSquares = 0, globalMax = 0;
        int n = 0;
        foreach ((int start, int length) in Spans)
        {
            for (int i = start; i < start + length; i++)
            {
                globalSum += g[i];
                globalSquares += g[i] * g[i];
                globalMax = Math.Max(globalMax, Math.Abs(g[i]));
                n++;
            }
        }

        double clip = Math.Min(1, maxNorm / (Math.Sqrt(globalSquares) + 0.000001));
        double[] before = (double[])P.Clone();
        for (int group = 0; group <= groups.Max(); group++)
        {
            double sum = 0, squares = 0, maxP = 0;
            int count = 0;
            for (int k = 0; k < Spans.Length; k++)
            {
                if (groups[k] != group)
                {
                    continue;
                }

                for (int i = Spans[k].Start; i < Spans[k].Start + Spans[k].Length; i++)
                {
                    sum += g[i];
                    squares += g[i] * g[i];
                    maxP = Math.Max(maxP, Math.Abs(before[i]));
                    count++;
                }
            }

            for (int k = 0; k < Spans.Length; k++)
            {
                if (groups[k] != group)
                {
                    continue;
                }

                _s[k] += 0.5 * ((squares / count) - _s[k]);
                for (int i = Spans[k].Start; i < Spans[k].Start + Spans[k].Length; i++)
                {
                    P[i] -= lr * ((g[i] * clip / Math.Sqrt(_s[k] + 1)) + (0.01 * maxP) + (0.001 * (globalSum + sum + Math.Sqrt(squares) + (globalSum / n) + globalMax)));
                }
            }
        }
    }
}

/// <summary><see cref="DeclaredOverStates"/> from its statements in float64: b and c read per element, then reduced over the tensor's elements.</summary>
internal sealed class OverStatesReference : ReductionReference
{
    private readonly TensorGrid[] _grids;
    private readonly double[][] _b, _c;

    public OverStatesReference(int[][] shapes, ReadOnlySpan<float> p0)
        : base(shapes, p0)
    {
        _grids = new TensorGrid[shapes.Length];
        _b = new double[shapes.Length][];
        _c = new double[shapes.Length][];
        for (int k = 0; k < shapes.Length; k++)
        {
            _grids[k] = TensorGrid.Of(shapes[k], Spans[k]);
            _b[k] = new double[(_grids[k].Length + 4) / 5];
            _c[k] = new double[_grids[k].Matrices * _grids[k].Columns];
        }
    }

    /// <summary>The floats the rule keeps: ⌈n/5⌉ + the columns per tensor.</summary>
    public int StateLength => _b.Sum(b => b.Length) + _c.Sum(c => c.Length);

    protected override void Update(double[] g, double lr, int t)
    {
        double[] squares = g.Select(x => x * x).ToArray();
        double[] b = new double[g.Length], c = new double[g.Length];
        for (int k = 0; k < _grids.Length; k++)
        {
            TensorGrid x = _grids[k];
            double[] blockMean = x.PerBlock(squares, 5, "mean"), columnMax = x.PerColumn(g, "maxabs");
            for (int i = 0; i < _b[k].Length; i++)
            {
                _b[k][i] += 0.5 * (blockMean[i] - _b[k][i]);
            }

            for (int j = 0; j < _c[k].Length; j++)
            {
                _c[k][j] = columnMax[j] + (0.5 * _c[k][j]);
            }

            for (int i = 0; i < x.Length; i++)
            {
                b[x.Start + i] = _b[k][i / 5];
                c[x.Start + i] = _c[k][x.ColumnOf(i)];
            }

            double factor = x.Reduce(b, _ => 0, 1, "norm")[0] + x.Reduce(b, _ => 0, 1, "sum")[0]
                + x.Reduce(c, _ => 0, 1, "maxabs")[0] - x.Reduce(c, _ => 0, 1, "mean")[0];
            for (int i = 0; i < x.Length; i++)
            {
                P[x.Start + i] -= lr * g[x.Start + i] * factor;
            }
        }
    }
}
