using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using OptGen.Runtime.Tests.Conformance;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// The float64 references of the families with reductions, checked against data they were not written from: the
/// public examples of SCHEMA.md (copies in Reductions/Examples, byte-compared with ../shared/conformance/examples
/// where that folder exists), the cases of tests/conformance/cases that tools/reference/generate_reductions.py
/// computes with a separate NumPy implementation, and, for Adam-mini, the Adam reference of References.cs.
/// </summary>
public sealed class ReductionReferenceTests(ITestOutputHelper output)
{
    private static string ExampleFolder => Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "OptGen.Runtime.Tests", "Reductions", "Examples");

    [Theory]
    [InlineData("lamb_example.json")]
    [InlineData("adafactor_example.json")]
    [InlineData("adamw_schedulefree_example.json")]
    public void ReferenceReproducesThePublicExample(string file)
    {
        ConformanceCase c = ConformanceCase.Load(Path.Combine(ExampleFolder, file));
        Assert.True(c.Tensors is not null, "the example gives tensors");
        (ErrorAccumulator train, ErrorAccumulator? eval) = ReductionReferences.Measure(c);
        output.WriteLine($"{c.Name}: max err {train.RelativeError:E2} (rtol {c.RelativeTolerance:G}), {train.Where}");
        Assert.True(train.Passed(c.RelativeTolerance), $"{c.Name}: {train.RelativeError:E2} at {train.Where}");
        if (c.Optimizer == "adamw_schedulefree")
        {
            Assert.NotNull(eval);
            output.WriteLine($"{c.Name} eval: max err {eval.RelativeError:E2}");
            Assert.True(eval.Passed(c.RelativeTolerance), $"{c.Name} eval: {eval.RelativeError:E2} at {eval.Where}");
        }
    }

    [Fact]
    public void ExampleCopiesAreTheSharedExamples()
    {
        string shared = Path.GetFullPath(Path.Combine(ConformanceCase.RepositoryRoot(), "..", "shared", "conformance", "examples"));
        string[] copies = Directory.GetFiles(ExampleFolder, "*.json");
        Assert.Equal(3, copies.Length);
        if (!Directory.Exists(shared))
        {
            return; // a checkout without the shared folder next to it: the copies are all there is
        }

        foreach (string copy in copies)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(shared, Path.GetFileName(copy))), File.ReadAllBytes(copy));
        }
    }

    /// <summary>Every own case of the five families, by file name.</summary>
    public static TheoryData<string> OwnCases()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases"), "*.json").Order(StringComparer.Ordinal))
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
            if (ReductionReferences.Covers(document.RootElement.GetProperty("optimizer").GetString()!))
            {
                data.Add(Path.GetFileName(file));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OwnCases))]
    public void ReferenceAgreesWithTheNumPyReferenceOfEveryOwnCase(string file)
    {
        ConformanceCase c = ConformanceCase.Load(Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases", file));
        (ErrorAccumulator train, ErrorAccumulator? eval) = ReductionReferences.Measure(c);
        output.WriteLine($"{c.Name}: max err {train.RelativeError:E2}" + (eval is null ? string.Empty : $", eval {eval.RelativeError:E2}"));

        // The script rounds p to float32 every step and this reference does not: a third of rtol leaves them room.
        Assert.True(train.Passed(c.RelativeTolerance / 3), $"{c.Name}: {train.RelativeError:E2} at {train.Where}");
        Assert.Equal(c.Optimizer == "adamw_schedulefree", eval is not null);
        Assert.True(eval?.Passed(c.RelativeTolerance / 3) ?? true, $"{c.Name} eval: {eval?.RelativeError:E2} at {eval?.Where}");
    }

    [Fact]
    public void EveryFamilyHasOwnCasesWithSeveralTensors()
    {
        var cases = OwnCases().Cast<object[]>().Select(row => ConformanceCase.Load(Path.Combine(ConformanceCase.RepositoryRoot(), "tests", "conformance", "cases", (string)row[0]))).ToList();
        foreach (string family in ReductionReferences.Keys.Keys)
        {
            Assert.Contains(cases, c => c.Optimizer == family && c.TensorShapes.Length >= 2);
            Assert.Contains(cases, c => c.Optimizer == family && c.Tensors is null);
        }

        Assert.Contains(cases, c => c.Optimizer == "adafactor" && c.Tensors is [[_, _]]);
        Assert.Contains(cases, c => c.Optimizer == "adafactor" && c.Hyperparameters["eps"][0].ValueKind == JsonValueKind.Null);
        Assert.Contains(cases, c => c.Optimizer == "adafactor" && c.Hyperparameters["eps"][0].ValueKind == JsonValueKind.Number);
        Assert.Contains(cases, c => c.Optimizer == "adafactor" && c.Hyperparameters["maximize"].GetBoolean());
        Assert.Contains(cases, c => c.Optimizer == "adam_mini" && c.TensorShapes.Any(s => s.Aggregate(1, (a, d) => a * d) % c.Hyperparameters["block"].GetInt32() != 0));
        Assert.All(cases.Where(c => c.Optimizer == "adamw_schedulefree"), c => Assert.NotNull(c.ExpectedEval));
    }

    /// <summary>The references are sensitive to the details the examples pin down: drop one and the example fails.</summary>
    [Fact]
    public void TheExamplesRejectAWrongDetail()
    {
        ConformanceCase lamb = ConformanceCase.Load(Path.Combine(ExampleFolder, "lamb_example.json"));

        // One trust ratio over all tensors instead of one per tensor.
        var whole = new LambReference([[lamb.Length]], lamb.InitialParameters, 0.9, 0.999, 1e-6, 0.01);
        Assert.False(Compare(lamb, whole.Run(lamb.Gradients, 1e-3)).Passed(lamb.RelativeTolerance));

        ConformanceCase adafactor = ConformanceCase.Load(Path.Combine(ExampleFolder, "adafactor_example.json"));

        // The matrix treated as a vector: a full second moment instead of the row and column factors.
        var unfactored = new AdafactorReference([[15], [4]], adafactor.InitialParameters, -0.8, null, 1e-3, 1, 0, false);
        Assert.False(Compare(adafactor, unfactored.Run(adafactor.Gradients, 0.01)).Passed(adafactor.RelativeTolerance));
    }

    [Theory]
    [InlineData("lamb", """{"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-6}""", "'weight_decay' is missing")]
    [InlineData("lars", """{"lr": 0.1, "momentum": 0.9, "weight_decay": 0, "trust_coefficient": 0.001, "eta": 1}""", "unknown key 'eta'")]
    [InlineData("novograd", """{"lr": 0.1}""", "not a family with reductions")]
    public void TheReferenceFactoryWantsExactlySchemasKeys(string optimizer, string json, string message)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        Dictionary<string, JsonElement> hp = document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => ReductionReferences.For(optimizer, hp, [[2]], new float[2]));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AdamMiniWithBlocksOfOneIsAdamW()
    {
        int[][] shapes = [[3, 7], [10]];
        float[] p0 = Enumerable.Range(0, 31).Select(i => MathF.Sin(i + 1)).ToArray();
        float[][] grads = Enumerable.Range(0, 25).Select(t => Enumerable.Range(0, 31).Select(i => MathF.Cos((3 * i) + t)).ToArray()).ToArray();
        var mini = new AdamMiniReference(shapes, p0, 0.8, 0.99, 1e-6, 0.1, block: 1);
        double[][] trajectory = mini.Run(grads, 0.01);
        var adamw = new AdamReference(31, 0.01, 0.8, 0.99, 1e-6, wd: 0.1, decoupled: true);
        float[] p = (float[])p0.Clone();
        var errors = new ErrorAccumulator();
        for (int t = 0; t < grads.Length; t++)
        {
            adamw.Step(p, grads[t], t + 1);
            errors.Add(p, ReductionReferences.ToFloat(trajectory[t]), t + 1);
        }

        Assert.True(errors.Passed(1e-6), errors.Where);
        Assert.Equal(31, mini.BlockCount);
        Assert.Equal(3 + 2, new AdamMiniReference(shapes, p0, 0.9, 0.999, 1e-8, 0, block: 8).BlockCount);
    }

    [Fact]
    public void LarsIsHeavyBallOnTheParameterDifference()
    {
        // Second derivation without the buffer: b_t = p_{t−1} − p_t, so
        // p_t = p_{t−1} + μ(p_{t−1} − p_{t−2}) − η·local_t·(g_t + λp_{t−1}), with p_{−1} = p₀.
        int[][] shapes = [[4, 6], [5], [3, 3]];
        const double mu = 0.9, lambda = 0.01, tc = 0.02;
        float[] p0 = Enumerable.Range(0, 38).Select(i => i % 7 == 0 ? 0f : MathF.Sin(i + 1)).ToArray();
        float[][] grads = Enumerable.Range(0, 30).Select(t => Enumerable.Range(0, 38).Select(i => t < 2 && i >= 24 && i < 29 ? 0f : MathF.Cos((5 * i) + (2 * t)))).Select(g => g.ToArray()).ToArray();
        double[] lrs = Enumerable.Range(0, 30).Select(t => 0.1 * (1 + (t % 4))).ToArray();
        double[][] trajectory = new LarsReference(shapes, p0, mu, lambda, tc).Run(grads, 0, lrs);

        double[] previous = p0.Select(v => (double)v).ToArray(), current = (double[])previous.Clone();
        double worst = 0;
        for (int t = 0; t < grads.Length; t++)
        {
            double[] next = new double[current.Length];
            foreach ((int start, int length) in TensorSpans.Of(shapes))
            {
                double pNorm = Math.Sqrt(current.Skip(start).Take(length).Sum(v => v * v));
                double gNorm = Math.Sqrt(grads[t].Skip(start).Take(length).Sum(v => (double)v * v));
                double local = pNorm == 0 || gNorm == 0 ? 1 : tc * pNorm / (gNorm + (lambda * pNorm));
                for (int i = start; i < start + length; i++)
                {
                    next[i] = current[i] + (mu * (current[i] - previous[i])) - (lrs[t] * local * (grads[t][i] + (lambda * current[i])));
                }
            }

            (previous, current) = (current, next);
            worst = Math.Max(worst, current.Zip(trajectory[t], (a, b) => Math.Abs(a - b)).Max());
        }

        Assert.True(worst < 1e-12, $"max difference {worst:E2}");
    }

    [Fact]
    public void AdafactorKeepsRowsPlusColumnsForAMatrixAndTheFullVectorOtherwise()
    {
        float[] p0 = new float[(6 * 10) + 7 + (2 * 3 * 4)];
        Assert.Equal(6 + 10 + 7 + (2 * (3 + 4)), new AdafactorReference([[6, 10], [7], [2, 3, 4]], p0, -0.8, null, 1e-3, 1, 0, false).StateLength);
    }

    [Fact]
    public void ScheduleFreeParametersAreTheInterpolationOfZAndX()
    {
        int[][] shapes = [[9]];
        float[] p0 = Enumerable.Range(0, 9).Select(i => (float)(i - 4)).ToArray();
        var reference = new ScheduleFreeReference(shapes, p0, 0.9, 0.999, 1e-8, 0.01, warmupSteps: 3, r: 0.5, weightLrPower: 2);
        Assert.Equal(p0.Select(v => (double)v), reference.Parameters);
        for (int t = 1; t <= 6; t++)
        {
            reference.Take(Enumerable.Range(0, 9).Select(i => MathF.Sin((i * t) + 1)).ToArray(), 0.01);
            double[] y = reference.Parameters, x = reference.Eval, z = reference.Z;
            for (int i = 0; i < 9; i++)
            {
                // The library's eval(): p.lerp_(z, 1 − 1/β₁) from y gives x; train() from x gives y back.
                Assert.Equal(x[i], y[i] + ((1 - (1 / 0.9)) * (z[i] - y[i])), 12);
                Assert.Equal(y[i], x[i] + ((1 - 0.9) * (z[i] - x[i])), 12);
            }
        }

        // Step 1 averages with weight 1: x = z. Warm-up makes later weights grow with lr_max², so c stays above 1/t.
        Assert.True(reference.LastAveragingWeight > 1.0 / 6);
    }

    private static ErrorAccumulator Compare(ConformanceCase c, double[][] trajectory)
    {
        var errors = new ErrorAccumulator();
        for (int t = 0; t < c.Steps; t++)
        {
            errors.Add(c.Expected[t], ReductionReferences.ToFloat(trajectory[t]), t + 1);
        }

        return errors;
    }
}
