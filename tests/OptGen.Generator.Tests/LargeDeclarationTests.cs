using System;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Declarations that are large along the axes the expression limits (OPTG0112: nesting, chains, operations per
/// statement) do not bound: thousands of step scalars, each reading the one before (once or twice), states,
/// hyperparameters, statements and locals. Each generates code that compiles cleanly (Nullable, warnings as errors)
/// without the generator overflowing its stack or taking time exponential in the length. The analyses walk such
/// chains by name: the state-sign proof (StateSigns) used to recurse into each step scalar's formula from every
/// place that read it, so 3,000 chained step scalars overflowed the compiler's stack and 30 that each read the one
/// before twice took 2^30 steps.
/// </summary>
public sealed class LargeDeclarationTests
{
    /// <summary>Runs the generator with a generous deadline: a regression to exponential time fails instead of hanging the run.</summary>
    private static GeneratorHarness.Run Generate(string declarations)
    {
        Task<GeneratorHarness.Run> run = Task.Run(() => GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n" + declarations, ilgpu: true));
        Assert.True(run.Wait(TimeSpan.FromMinutes(3)), "the generator did not finish in 3 minutes");
        return run.Result;
    }

    private static void AssertClean(GeneratorHarness.Run run, string className)
    {
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Contains($"Demo.{className}.g.cs", run.Files.Keys);
        Assert.Contains($"Demo.{className}.Gpu.g.cs", run.Files.Keys);
    }

    [Fact]
    public void ThreeThousandStepScalarsEachReadingTheOneBefore()
    {
        var text = new StringBuilder("[Optimizer] [StepScalar(\"a0\", \"t\")] ");
        for (int i = 1; i < 3000; i++)
        {
            text.Append($"[StepScalar(\"a{i}\", \"a{i - 1} + 1\")] ");
        }

        AssertClean(Generate(text.Append("[Update(\"p = p - a2999 * 1e-10 * g\")] public partial class Chain;").ToString()), "Chain");
    }

    [Fact]
    public void StepScalarsThatEachReadTheOneBeforeTwice()
    {
        var text = new StringBuilder("[Optimizer] [StepScalar(\"a0\", \"1 - 1 / (t + 1)\")] ");
        for (int i = 1; i < 40; i++)
        {
            text.Append($"[StepScalar(\"a{i}\", \"a{i - 1} * a{i - 1}\")] ");
        }

        AssertClean(Generate(text.Append("[Update(\"p = p - a39 * g\")] public partial class Squares;").ToString()), "Squares");
    }

    [Fact]
    public void NestedProductsInOneStatement()
    {
        // g · √(g · √(g · …)): a product's factors and its operands are the same nodes, asked for twice per level.
        string nested = "g";
        for (int i = 0; i < 30; i++)
        {
            nested = $"g * sqrt({nested})";
        }

        AssertClean(Generate($"[Optimizer] [State(\"v\")] [Update(\"v = {nested}\")] [Update(\"p = p - 0.1 * v\")] public partial class Nested;"), "Nested");
    }

    [Fact]
    public void ManyStatesHyperparametersStatementsAndLocals()
    {
        var text = new StringBuilder("[Optimizer] [Update(\"let x0 = g\")] ");
        for (int i = 0; i < 200; i++)
        {
            text.Append($"[Hyperparameter(\"h{i}\", 0.001)] [State(\"s{i}\")] [Update(\"s{i} = 0.9 * s{i} + h{i} * g\")] ");
        }

        for (int i = 1; i < 1000; i++)
        {
            text.Append($"[Update(\"let x{i} = x{i - 1} * 0.5 + s{i % 200}\")] ");
        }

        AssertClean(Generate(text.Append("[Update(\"p = p - 0.001 * x999\")] public partial class Wide;").ToString()), "Wide");
    }

    [Fact]
    public void ThreeHundredOptimizersInOneCompilation()
    {
        GeneratorHarness.Run run = Generate(string.Concat(Enumerable.Range(0, 300).Select(i => $"[Optimizer] [Hyperparameter(\"Lr\", 0.{i + 1})] [Update(\"p = p - Lr * g * {i + 1}\")] public partial class C{i};\n")));
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.All(Enumerable.Range(0, 300), i => Assert.Contains($"Demo.C{i}.g.cs", run.Files.Keys));
    }

    /// <summary>A number whose digits are not 0 but whose double is (1e-400, 0.000…1): refused like 1e400, not read as 0.</summary>
    [Theory]
    [InlineData("[Update(\"p = p - [|1e-400|] * g\")]")]
    [InlineData("[Update(\"p = p - [|1e-99999999999999999999|] * g\")]")]
    [InlineData("[Update(\"p = p - g * [|0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001|]\")]")]
    [InlineData("[StepScalar(\"k\", \"t * [|1e-400|]\")] [Update(\"p = p - k * g\")]")] // in double on the host too
    public void OPTG0100_ANonzeroNumberThatIsZeroInDouble(string declarations)
    {
        Diagnostic d = DiagnosticLocationTests.AssertMarked($"[Optimizer] {declarations} public partial class C;", "OPTG0100");
        Assert.Contains("is too small: it is 0 even in double", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroWrittenWithAnExponentOrManyZerosIsZero()
    {
        GeneratorHarness.Run run = Generate("[Optimizer] [Update(\"p = p - (0e-400 + 0.000000000000000000000000000000000000000000000000000000000000) * p - 0.1 * g\")] public partial class Zero;");
        AssertClean(run, "Zero");
    }
}
