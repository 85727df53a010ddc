using System;
using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The float32 range check the optimizer class emits in <c>CreateKernel</c>: every kernel scalar is checked, and
/// exactly those the update divides by (directly or through element locals, never through a state) must not
/// underflow to 0.
/// </summary>
public sealed class StepScalarCheckTests
{
    private static (string[] Finite, string[] Nonzero, string Optimizer) Checks(string source)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        string optimizer = run.Files.Single(f => f.Key.StartsWith("Demo.", StringComparison.Ordinal) && !f.Key.Contains("Gpu", StringComparison.Ordinal)).Value;
        string[] Names(string method) => Regex.Matches(optimizer, $@"StepScalars\.{method}\((\w+), ").Select(m => m.Groups[1].Value).ToArray();
        return (Names("RequireFinite"), Names("RequireFiniteNonzero"), optimizer);
    }

    [Fact]
    public void DivisorsThroughLocalsAreCheckedForUnderflowAndStateUpdatesAreNot()
    {
        (string[] finite, string[] nonzero, string optimizer) = Checks("""
            using OptGen;
            namespace Demo;
            [Optimizer]
            [Hyperparameter("LearningRate", 0.01)]
            [Hyperparameter("Beta", 0.9)]
            [Hyperparameter("Eps", 1e-8)]
            [State("v")]
            [Update("v = Beta * v + (1 - Beta) * g * g")]
            [Update("let d = sqrt(v) + Eps * Eps")]
            [Update("p = p - LearningRate * g / d")]
            public partial class Divided;
            """);

        // ε² (K_1) reaches the divisor through the local d; β and 1 − β only update the state v, which may be 0, and
        // η multiplies.
        Assert.Equal(["GradientScale", "Beta", "K_0", "LearningRate"], finite);
        Assert.Equal(["K_1"], nonzero);
        Assert.Contains("double K_1 = eps * eps;", optimizer, StringComparison.Ordinal);
        Assert.Contains("StepScalars.RequireFiniteNonzero(K_1, \"K_1\", \"Eps·Eps\", step);", optimizer, StringComparison.Ordinal);
        Assert.Contains("protected override void ValidateStepScalars(", optimizer, StringComparison.Ordinal);
        Assert.Contains("CreateKernel(hyperparameters, step, gradientScale);", optimizer, StringComparison.Ordinal);

        // The checks come after every scalar is computed and before the kernel is built.
        int lastCheck = optimizer.LastIndexOf("global::OptGen.Kernels.StepScalars.", StringComparison.Ordinal);
        Assert.True(lastCheck < optimizer.IndexOf("return new global::OptGen.Generated.", StringComparison.Ordinal));
    }
}
