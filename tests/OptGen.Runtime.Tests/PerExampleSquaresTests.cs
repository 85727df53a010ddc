using System;
using Xunit;
using static OptGen.Runtime.Tests.BatchSizeTests;

namespace OptGen.Runtime.Tests;

/// <summary>
/// The second per-element input: the batch mean of per-example squared gradients, beside the gradient, through
/// every Step overload, against float64 references; and every misuse refused by argument name with nothing changed.
/// </summary>
public sealed class PerExampleSquaresTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 15, 33, 257, 1025 };

    /// <summary>Squares consistent with a gradient: the mean of g_b² over a batch whose mean is g, i.e. g² plus a variance.</summary>
    private static float[] Squares(float[] g, int seed)
    {
        float[] variance = Data.Vector(g.Length, seed);
        var squares = new float[g.Length];
        for (int i = 0; i < g.Length; i++)
        {
            squares[i] = (g[i] * g[i]) + Math.Abs(variance[i]);
        }

        return squares;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void AdamWithPerExampleSquaresMatchesItsFloat64Reference(int n)
    {
        var attributes = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var expression = new PerExampleSquaresAdamExpression(n) { LearningRate = 1e-2 };
        float[] p = Data.Vector(n, 1), q = (float[])p.Clone(), r = (float[])p.Clone();
        double[] m = new double[n], v = new double[n];
        for (int t = 1; t <= 50; t++)
        {
            float[] g = Data.Vector(n, 10 + t), sq = Squares(g, 1000 + t);
            attributes.Step(p, g, sq);
            expression.Step(q, g, sq);
            AdamStep(r, g, t, 1e-2, 0.9, 0.999, 1e-8, m, v, sq);
            NumericalTests.AssertClose("per-example-squares Adam (attributes)", n, t, r, p);
            NumericalTests.AssertClose("per-example-squares Adam (expression)", n, t, r, q);
        }

        Assert.Equal(20, attributes.Descriptor.BytesReadPerElement); // p, g, gsq, m, v
        Assert.Equal(new[] { "PerExampleSquares" }, attributes.Descriptor.Inputs);
    }

    [Fact]
    public void TheSquaresAreScaledByTheSquareOfTheGradientFactor()
    {
        const int n = 100;
        var optimizer = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        float[] p = Data.Vector(n, 2), r = (float[])p.Clone();
        double[] m = new double[n], v = new double[n];
        var options = new StepOptions { GradientScale = 0.25 };
        for (int t = 1; t <= 20; t++)
        {
            float[] g = Data.Vector(n, 20 + t), sq = Squares(g, 2000 + t);
            optimizer.Step(p, g, sq, options);
            float[] scaled = Array.ConvertAll(g, x => x * 0.25f), scaledSquares = Array.ConvertAll(sq, x => x * 0.0625f);
            AdamStep(r, scaled, t, 1e-2, 0.9, 0.999, 1e-8, m, v, scaledSquares);
            NumericalTests.AssertClose("per-example squares with a loss scale", n, t, r, p);
        }
    }

    [Fact]
    public void AdagradSumsThePerExampleSquares()
    {
        const int n = 77;
        var optimizer = new PerExampleSquaresAdagrad(n);
        float[] p = Data.Vector(n, 3), r = (float[])p.Clone();
        double[] s = new double[n];
        for (int t = 1; t <= 30; t++)
        {
            float[] g = Data.Vector(n, 30 + t), sq = Squares(g, 3000 + t);
            optimizer.Step(p, g, sq);
            for (int i = 0; i < n; i++)
            {
                s[i] += sq[i];
                r[i] = (float)(r[i] - (0.05 * g[i] / (Math.Sqrt(s[i]) + 1e-10)));
            }

            NumericalTests.AssertClose("per-example-squares Adagrad", n, t, r, p);
        }
    }

    [Fact]
    public void ThreadsPiecesAndTensorsGiveTheSameBits()
    {
        // Two tensors beyond one piece each, stepped as an arena, as separate buffers, on one thread and on two.
        int[] lengths = { 40_000, 70_001 };
        var layout = new ParameterLayout(lengths);
        int total = lengths[0] + lengths[1];
        float[] p0 = Data.Vector(total, 4);
        float[][] results = new float[3][];
        for (int run = 0; run < 3; run++)
        {
            var optimizer = new PerExampleSquaresAdam(layout) { LearningRate = 1e-2 };
            float[] p = (float[])p0.Clone();
            for (int t = 1; t <= 3; t++)
            {
                float[] g = Data.Vector(total, 40 + t), sq = Squares(g, 4000 + t);
                var options = new StepOptions { MaxDegreeOfParallelism = run == 1 ? 1 : 2 };
                if (run < 2)
                {
                    optimizer.Step(p, g, sq, options);
                }
                else
                {
                    Memory<float>[] ps = { p.AsMemory(0, lengths[0]), p.AsMemory(lengths[0]) };
                    ReadOnlyMemory<float>[] gs = { g.AsMemory(0, lengths[0]), g.AsMemory(lengths[0]) };
                    ReadOnlyMemory<float>[] qs = { sq.AsMemory(0, lengths[0]), sq.AsMemory(lengths[0]) };
                    optimizer.Step(ps, gs, qs, options);
                }
            }

            results[run] = p;
        }

        Assert.Equal(results[0], results[1]);
        Assert.Equal(results[0], results[2]);

        // And the single-tensor path, whose driver cuts chunks itself, on two threads against the reference.
        var single = new PerExampleSquaresAdam(total) { LearningRate = 1e-2 };
        float[] s = (float[])p0.Clone(), reference = (float[])p0.Clone();
        double[] m = new double[total], v = new double[total];
        for (int t = 1; t <= 3; t++)
        {
            float[] g = Data.Vector(total, 40 + t), sq = Squares(g, 4000 + t);
            single.Step(s, g, sq, new StepOptions { MaxDegreeOfParallelism = 2 });
            AdamStep(reference, g, t, 1e-2, 0.9, 0.999, 1e-8, m, v, sq);
        }

        NumericalTests.AssertClose("per-example squares, one tensor on two threads", total, 3, reference, s);
        Assert.Equal(results[0], s);
    }

    [Fact]
    public void SixteenBitGradientsAndSquaresAreWidenedLikeGradients()
    {
        const int n = 129;
        float[] p0 = Data.Vector(n, 5);
        var plain = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var plainOfBFloat16 = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var half = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var bf16 = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var halfTensors = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        var bf16Tensors = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        float[] a = (float[])p0.Clone(), b = (float[])p0.Clone(), c = (float[])p0.Clone(), d = (float[])p0.Clone(), e = (float[])p0.Clone(), f = (float[])p0.Clone();
        for (int t = 1; t <= 10; t++)
        {
            float[] g = Data.Vector(n, 50 + t), sq = Squares(g, 5000 + t);
            Half[] gh = Array.ConvertAll(g, x => (Half)x), sqh = Array.ConvertAll(sq, x => (Half)x);
            BFloat16[] gb = Array.ConvertAll(g, x => (BFloat16)x), sqb = Array.ConvertAll(sq, x => (BFloat16)x);

            // float32 master parameters: exactly the float32 step on the widened values.
            plain.Step(a, Array.ConvertAll(gh, x => (float)x), Array.ConvertAll(sqh, x => (float)x));
            half.Step(b, gh, sqh);
            halfTensors.Step(new[] { d.AsMemory() }, new[] { (ReadOnlyMemory<Half>)gh }, new[] { (ReadOnlyMemory<Half>)sqh });
            Assert.Equal(a, b);
            Assert.Equal(a, d);

            plainOfBFloat16.Step(e, Array.ConvertAll(gb, x => (float)x), Array.ConvertAll(sqb, x => (float)x));
            bf16.Step(c, gb, sqb);
            bf16Tensors.Step(new[] { f.AsMemory() }, new[] { (ReadOnlyMemory<BFloat16>)gb }, new[] { (ReadOnlyMemory<BFloat16>)sqb });
            Assert.Equal(e, c);
            Assert.Equal(e, f);
        }

        // bfloat16 parameters, gradients and squares: close to the float64 reference on the widened inputs.
        var all16 = new PerExampleSquaresAdam(n) { LearningRate = 1e-2 };
        BFloat16[] pb = Array.ConvertAll(p0, x => (BFloat16)x);
        float[] r = Array.ConvertAll(pb, x => (float)x);
        double[] m = new double[n], v = new double[n];
        for (int t = 1; t <= 10; t++)
        {
            float[] g = Data.Vector(n, 50 + t), sq = Squares(g, 5000 + t);
            BFloat16[] gb = Array.ConvertAll(g, x => (BFloat16)x), sqb = Array.ConvertAll(sq, x => (BFloat16)x);
            all16.Step(pb, gb, sqb);
            AdamStep(r, Array.ConvertAll(gb, x => (float)x), t, 1e-2, 0.9, 0.999, 1e-8, m, v, Array.ConvertAll(sqb, x => (float)x));
            r = Array.ConvertAll(Array.ConvertAll(r, x => (BFloat16)x), x => (float)x);
        }

        float[] got = Array.ConvertAll(pb, x => (float)x);
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(got[i] - r[i]) <= 2e-2 * Math.Max(1, Math.Abs(r[i])), $"element {i}: {got[i]} vs {r[i]}");
        }
    }

    [Fact]
    public void MissingOrMismatchedSquaresAreRefusedByNameAndChangeNothing()
    {
        const int n = 32;
        var optimizer = new PerExampleSquaresAdam(n);
        float[] p = Data.Vector(n, 6), g = Data.Vector(n, 7), sq = Squares(g, 8);
        optimizer.Step(p, g, sq);
        float[] before = (float[])p.Clone(), m = optimizer.FirstMoment.ToArray();

        void Refused(Action step)
        {
            var error = Assert.Throws<ArgumentException>(step);
            Assert.Equal("perExampleSquares", error.ParamName);
            Assert.Equal(before, p);
            Assert.Equal(m, optimizer.FirstMoment.ToArray());
            Assert.Equal(1, optimizer.StepCount);
        }

        Refused(() => optimizer.Step(p, g));                                   // the rule needs them
        Refused(() => optimizer.Step(p, g, (StepOptions?)null));
        Refused(() => optimizer.Step(p, g, new float[n - 1]));                 // wrong length
        Refused(() => optimizer.Step(p, g, p));                                // overlaps the parameters
        Refused(() => optimizer.Step(new[] { p.AsMemory() }, new[] { (ReadOnlyMemory<float>)g }));
        Refused(() => optimizer.Step(new[] { p.AsMemory() }, new[] { (ReadOnlyMemory<float>)g }, Array.Empty<ReadOnlyMemory<float>>()));
        Refused(() => optimizer.Step(new[] { p.AsMemory() }, new[] { (ReadOnlyMemory<float>)g }, new[] { (ReadOnlyMemory<float>)p }));

        // A rule without per-example squares refuses them.
        var plain = new PerStepAdam(n);
        float[] q = (float[])p.Clone();
        var error = Assert.Throws<ArgumentException>(() => plain.Step(q, g, sq));
        Assert.Equal("perExampleSquares", error.ParamName);
        Assert.Equal(p, q);
        Assert.Equal(0, plain.StepCount);
    }

    [Fact]
    public void AWarmedUpStepWithSquaresAllocatesNothing()
    {
        const int n = 4096;
        var optimizer = new PerExampleSquaresAdam(n);
        float[] p = Data.Vector(n, 9), g = Data.Vector(n, 10), sq = Squares(g, 11);
        ReadOnlyMemory<float>[] gs = { g }, qs = { sq };
        Memory<float>[] ps = { p };
        optimizer.Step(p, g, sq);
        optimizer.Step(ps, gs, qs);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int t = 0; t < 10; t++)
        {
            optimizer.Step(p, g, sq);
            optimizer.Step(ps, gs, qs);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
