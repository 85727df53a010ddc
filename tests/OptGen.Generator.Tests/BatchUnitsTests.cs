using System.Linq;
using System.Text.RegularExpressions;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Per-example units in the generator: B in expression rules, the units in properties and remarks, and rule
/// identity (per-example units make a different rule; per-step units, written or not, are the rule as before).
/// </summary>
public sealed class BatchUnitsTests
{
    private static GeneratorHarness.Run Generate(string declaration)
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate("using OptGen;\nnamespace Demo;\n\n" + declaration);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        return run;
    }

    private static string Optimizer(GeneratorHarness.Run run, string name) => run.Files["Demo." + name + ".g.cs"];

    private static string RuleId(string source) => Regex.Match(source, "ruleId: \"([0-9a-f]+)\"").Groups[1].Value;

    private const string Adam = """
        [Optimizer]
        [LearningRate(1e-3{0})]
        [FirstMoment(Beta = 0.9{1})]
        [SecondMoment(Beta = 0.999{1})]
        [BiasCorrection(BiasCorrectionMode.Power)]
        [Epsilon(1e-8)]
        public partial class {2};
        """;

    [Fact]
    public void PerStepUnitsWrittenOrNotAreTheSameRuleAndPerExampleUnitsAnother()
    {
        string plain = Optimizer(Generate(string.Format(Adam, "", "", "Plain")), "Plain");
        string perStep = Optimizer(Generate(string.Format(Adam, ", Units = BatchUnits.PerStep", ", Units = BatchUnits.PerStep", "Written")), "Written");
        string perExample = Optimizer(Generate(string.Format(Adam, ", Units = BatchUnits.PerExample", ", Units = BatchUnits.PerExample", "Examples")), "Examples");
        string root = Optimizer(Generate(string.Format(Adam, ", Units = BatchUnits.PerExampleSquareRoot", "", "Root")), "Root");
        Assert.Equal(RuleId(plain), RuleId(perStep));
        Assert.Equal(4, new[] { RuleId(plain), RuleId(perExample), RuleId(root), "" }.Distinct().Count());
        Assert.DoesNotContain("batchSize", plain, System.StringComparison.Ordinal);

        // The properties and remarks say the units.
        Assert.Contains("a step of batch size B uses η = B·η′", perExample, System.StringComparison.Ordinal);
        Assert.Contains("a step of batch size B uses η = √B·η′", root, System.StringComparison.Ordinal);
        Assert.Contains("N₁ = max(1, N₁′/B) steps", perExample, System.StringComparison.Ordinal);
        Assert.Contains("StepSize = √B·η′/(1 − β₁ᵗ)", root, System.StringComparison.Ordinal);
        Assert.Contains("new(\"Beta1\", \"β₁′\"", perExample, System.StringComparison.Ordinal);
    }

    [Fact]
    public void BInAnExpressionRuleIsTheBatchSize()
    {
        string source = Optimizer(Generate("""
            [Optimizer]
            [Hyperparameter("LearningRate", 0.01)]
            [Hyperparameter("Beta1", 0.99)]
            [State("m")]
            [State("b")]
            [Update("m = lerp(m, g, 1 - batchDecay(Beta1))")]
            [Update("b = b + g")]
            [Update("p = p - sqrt(B) * LearningRate * m")]
            public partial class Expressed;
            """), "Expressed");
        Assert.Contains("double batchSize", source, System.StringComparison.Ordinal);
        Assert.Contains("global::System.Math.Sqrt(batchSize)", source, System.StringComparison.Ordinal);
        Assert.Contains("global::System.Math.Max(0.0, 1.0 - batchSize * (1.0 - beta1))", source, System.StringComparison.Ordinal);
    }

    [Fact]
    public void ARuleThatDeclaresBKeepsItsOwn()
    {
        string source = Optimizer(Generate("""
            [Optimizer]
            [Hyperparameter("B", 0.5)]
            [Update("p = p - B * g")]
            public partial class OwnB;
            """), "OwnB");
        Assert.DoesNotContain("batchSize", source, System.StringComparison.Ordinal);
    }
}
