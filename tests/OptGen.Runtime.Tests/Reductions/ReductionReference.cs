using System;
using System.Collections.Generic;
using System.Linq;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// A float64 reference of an optimizer whose update reads reductions (norms, row/column/block means) over the
/// tensors of a flat parameter vector. The vector is the concatenation of the tensors of <see cref="Shapes"/>, each
/// row-major (SCHEMA.md "Families with reductions"); parameters and state stay in double, nothing is rounded
/// between steps. Written from the definitions (papers, torch.optim.Adafactor, schedulefree.AdamWScheduleFree),
/// never from the generated code; tools/reference/generate_reductions.py is a second, independent
/// implementation in NumPy, and the two meet in the conformance case files.
/// </summary>
internal abstract class ReductionReference
{
    private readonly double[] _gradient;

    protected ReductionReference(int[][] shapes, ReadOnlySpan<float> p0)
    {
        Shapes = shapes;
        Spans = TensorSpans.Of(shapes);
        if (Spans.Sum(s => s.Length) != p0.Length)
        {
            throw new ArgumentException($"The shapes hold {Spans.Sum(s => s.Length)} elements but p0 has {p0.Length}.", nameof(p0));
        }

        P = new double[p0.Length];
        for (int i = 0; i < p0.Length; i++)
        {
            P[i] = p0[i];
        }

        _gradient = new double[p0.Length];
    }

    /// <summary>The tensor shapes; a shape of one dimension is a vector.</summary>
    public int[][] Shapes { get; }

    /// <summary>(start, length) of every tensor in the flat vector.</summary>
    public (int Start, int Length)[] Spans { get; }

    /// <summary>The number of steps taken.</summary>
    public int Step { get; private set; }

    /// <summary>The parameters the optimizer holds (what a training loop sees) after the last step.</summary>
    public virtual double[] Parameters => P;

    /// <summary>The parameter vector the update works on.</summary>
    protected double[] P { get; }

    /// <summary>Takes step t = <see cref="Step"/> + 1 with this gradient and learning rate (the <c>lr</c> key, or <c>lr_per_step[t − 1]</c>).</summary>
    public void Take(ReadOnlySpan<float> gradient, double lr)
    {
        if (gradient.Length != P.Length)
        {
            throw new ArgumentException($"Expected {P.Length} gradients but got {gradient.Length}.", nameof(gradient));
        }

        for (int i = 0; i < gradient.Length; i++)
        {
            _gradient[i] = gradient[i];
        }

        Step++;
        Update(_gradient, lr, Step);
    }

    /// <summary>The parameters after every step: grads[t − 1] at step t with lrs[t − 1] (or <paramref name="lr"/> throughout).</summary>
    public double[][] Run(float[][] grads, double lr, double[]? lrs = null) => Run(grads, lr, lrs, r => r.Parameters);

    /// <summary>Like <see cref="Run(float[][], double, double[])"/>, recording <paramref name="record"/> after every step.</summary>
    public double[][] Run(float[][] grads, double lr, double[]? lrs, Func<ReductionReference, double[]> record)
    {
        var trajectory = new double[grads.Length][];
        for (int t = 0; t < grads.Length; t++)
        {
            Take(grads[t], lrs is null ? lr : lrs[t]);
            trajectory[t] = (double[])record(this).Clone();
        }

        return trajectory;
    }

    /// <summary>One step on the double gradient <paramref name="g"/> (length n), t ≥ 1.</summary>
    protected abstract void Update(double[] g, double lr, int t);
}

/// <summary>Where each tensor lies in the flat vector, and the reductions over one tensor.</summary>
internal static class TensorSpans
{
    /// <summary>(start, length) of every tensor; a length is the product of the shape's sizes.</summary>
    public static (int Start, int Length)[] Of(IReadOnlyList<int[]> shapes)
    {
        var spans = new (int, int)[shapes.Count];
        int start = 0;
        for (int k = 0; k < shapes.Count; k++)
        {
            if (shapes[k].Length == 0 || shapes[k].Any(d => d < 1))
            {
                throw new ArgumentException($"Shape {k} must be a non-empty list of positive sizes.", nameof(shapes));
            }

            int length = shapes[k].Aggregate(1, (a, d) => checked(a * d));
            spans[k] = (start, length);
            start += length;
        }

        return spans;
    }

    /// <summary>‖x‖₂ = √(Σ x²), summed in index order.</summary>
    public static double Norm(ReadOnlySpan<double> x)
    {
        double sum = 0;
        foreach (double v in x)
        {
            sum += v * v;
        }

        return Math.Sqrt(sum);
    }
}
