using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OptGen.Generator.Model;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// OPTG0138: a [State] that the rule, as it runs, never reads or writes is a warning at the state's name; the code is
/// still generated and compiles. A state used in any way (read, written, in a condition, a reduction, a compact
/// state) is not reported, and the building-block attributes never declare a state their rule leaves unused.
/// </summary>
public sealed partial class DiagnosticLocationTests
{
    private const string MomentumRule = "[Hyperparameter(\"Lr\", 0.1)] [State(\"m\")] [Update(\"m = 0.9 * m + g\")] [Update(\"p = p - Lr * m\")]";

    [Theory]
    [InlineData("[State(\"[|u|]\")]")]
    [InlineData("[State(\"[|u|]\", Name = \"Unused\")]")]
    [InlineData("[State(@\"[|u|]\")]")]
    [InlineData("[State(\"\"\"[|u|]\"\"\")]")]
    [InlineData("[State(\"[|u|]\")] [Update(\"u = u\")]")] // a self-assignment is dropped
    [InlineData("[State(\"[|u|]\")] [Update(\"let x = 2 * u\")]")] // so is a local nothing reads
    [InlineData("[State(\"[|u|]\")] [Update(\"p = p - Lr * g / (norm(g) + 1)\")]")] // a rule with reductions (two passes)
    public void OPTG0138_UnusedState(string declaration)
    {
        Diagnostic d = AssertMarked($"[Optimizer] {MomentumRule} {declaration} public partial class C;", "OPTG0138", DiagnosticSeverity.Warning);
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("'u' of 'C' is never read or written", message, StringComparison.Ordinal);
        Assert.Contains("memory and traffic", message, StringComparison.Ordinal);
    }

    [Fact]
    public void OPTG0138_IsAWarningThatLeavesTheCodeGenerated()
    {
        GeneratorHarness.Run run = GeneratorHarness.Generate($"using OptGen;\nnamespace Demo;\n[Optimizer] {MomentumRule} [State(\"u\")] [State(\"w\")] public partial class C;");
        Assert.Empty(run.Exceptions);
        Assert.Equal(new[] { "OPTG0138", "OPTG0138" }, run.OptGenDiagnostics.Select(d => d.Id));
        Assert.All(run.OptGenDiagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Descriptor.DefaultSeverity));
        Assert.Contains("Demo.C.g.cs", run.Files.Keys);
        Assert.Empty(run.Errors);
        Assert.Contains("ReadOnlySpan<float> U =>", run.Files["Demo.C.g.cs"], StringComparison.Ordinal); // still a state of the optimizer
    }

    [Fact]
    public void OPTG0138_NotReportedForAStateUsedInAnyWay()
    {
        string[] rules =
        {
            "[State(\"u\")] [Update(\"u = g * g\")] [Update(\"p = p - Lr * g\")]",                // only written (read through its property)
            "[State(\"u\")] [Update(\"p = u > 0 ? p : p - Lr * g\")] [Update(\"u = g\")]",         // in a condition
            "[State(\"u\")] [Update(\"u = g\")] [Update(\"p = p - Lr * g / (norm(u) + 1)\")]",     // in a reduction's operand
            "[State(\"r\")] [Update(\"r = lerp(r, row_mean(g * g), 0.1)\")] [Update(\"p = p - Lr * g / sqrt(r + 1)\")]", // a compact state
            "[State(\"u\")] [Update(\"let x = 2 * u\")] [Update(\"p = p - Lr * x * g\")] [Update(\"u = x + g\")]", // through a local
            "[State(\"u\")] [Update(\"p = p - Lr * (g + u)\")]",                                   // only read: OPTG0141, not OPTG0138
            "[State(\"u\")] [Update(\"u = u\")] [Update(\"p = p - Lr * u * g\")]",                 // a self-assignment beside a real read: OPTG0141 too
        };
        var source = new StringBuilder("using OptGen;\nnamespace Demo;\n");
        for (int i = 0; i < rules.Length; i++)
        {
            source.Append($"[Optimizer] [Hyperparameter(\"Lr\", 0.1)] {rules[i]} public partial class Used{i};\n");
        }

        GeneratorHarness.Run run = GeneratorHarness.Generate(source.ToString());
        Assert.Empty(run.Exceptions);
        Assert.Equal(new[] { ("OPTG0141", "Used5"), ("OPTG0141", "Used6") }, run.OptGenDiagnostics.Select(d => (d.Id, $"Used{d.Location.GetLineSpan().StartLinePosition.Line - 2}")).OrderBy(x => x.Item2));
        Assert.Empty(run.Errors);
        Assert.All(Enumerable.Range(0, rules.Length), i => Assert.Contains($"Demo.Used{i}.g.cs", run.Files.Keys));
    }

    /// <summary>
    /// The building-block attributes declare their states themselves; the lowering must use each one, or the
    /// optimizer would carry a buffer that is always 0. Checked on the catalog and on 600 random rules of every
    /// attribute family with random options (fixed seed), through the pipeline's lowered models.
    /// </summary>
    [Fact]
    public void AttributeRulesUseEveryStateTheyDeclare()
    {
        var random = new Random(20261205);
        var sources = CatalogSnapshotTests.Declarations().Values.Select((d, i) => $"using OptGen;\nnamespace Catalog{i};\n{d}").ToList();
        for (int i = 0; i < 600; i++)
        {
            sources.Add($"using OptGen;\nnamespace Random{i};\n[Optimizer] {RandomAttributes(random)} public partial class C;\n");
        }

        CSharpCompilation compilation = GeneratorHarness.Compilation(string.Empty)
            .AddSyntaxTrees(sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, GeneratorHarness.ParseOptions(), path: $"Rule{i}.cs")));
        GeneratorRunResult result = GeneratorHarness.Driver().RunGenerators(compilation).GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        OptimizerModel[] models = result.TrackedSteps[TrackingNames.Lower].SelectMany(s => s.Outputs).Select(o => (OptimizerModel)o.Value).ToArray();
        OptimizerModel[] withState = models.Where(m => m.Program.States.Count > 0).ToArray();
        Assert.True(withState.Length >= 300, $"only {withState.Length} valid rules with state");
        Assert.Contains(withState, m => m.Program.States.Any(x => x.Name == "DeltaAccumulator"));
        Assert.Equal(5, withState.SelectMany(m => m.Program.States.Select(s => s.Name)).Where(n => n is "FirstMoment" or "SecondMoment" or "MaxSecondMoment" or "MomentumBuffer" or "GradientAverage").Distinct().Count());
        foreach (OptimizerModel model in withState)
        {
            var symbols = model.Program.States.Select(s => s.Symbol).ToArray();
            Assert.True(!Ir.StateAccess.Unused(model.Program.Body, symbols).Any(), $"{model.RuleName}: a declared state is never used");
            Assert.True(Ir.StateAccess.Read(model.Program.Body, symbols).IsSubsetOf(Ir.StateAccess.Written(model.Program.Body, symbols)), $"{model.RuleName}: a state is read but never written (OPTG0141)");
        }

        // Every hyperparameter a building block declares is read by the rule (OPTG0139's sense of "used").
        foreach (OptimizerModel model in models)
        {
            HashSet<string> read = Ir.HostReads.Hyperparameters(model.Program);
            Assert.True(model.Program.Hyperparameters.All(h => read.Contains(h.Name)), $"{model.RuleName}: hyperparameters never read: {string.Join(", ", model.Program.Hyperparameters.Where(h => !read.Contains(h.Name)).Select(h => h.Name))}");
        }

        Assert.DoesNotContain(result.Diagnostics, d => d.Id is "OPTG0138" or "OPTG0139" or "OPTG0140" or "OPTG0141");
    }

    /// <summary>A random rule of one of the attribute families (Adam-like, SGD, Adagrad/RMSprop, NAdam, RAdam, Adadelta, Adamax), with random options.</summary>
    private static string RandomAttributes(Random r)
    {
        string Pick(params string[] options) => options[r.Next(options.Length)];
        string Maybe(string attribute) => r.Next(2) == 0 ? attribute : string.Empty;
        string firstMoment = $"[FirstMoment({Pick("Beta = 0.9", "Length = 10")}{Pick("", ", Input = MomentInput.AbsoluteGradient")}{Pick("", ", Start = MomentStart.FirstSample")})]";
        string average = $"[SecondMoment(Beta = 0.999{Pick("", ", Centered = true")}{Pick("", ", Power = 1")}{Pick("", ", Start = MomentStart.FirstSample")}{Pick("", "", ", Scope = MomentScope.Tensor", ", Scope = MomentScope.Row", ", Scope = MomentScope.Block, BlockLength = 64")})]";
        string epsilon = $"[Epsilon(1e-8{Pick("", ", Placement = EpsilonPlacement.InsideSqrt", ", Placement = EpsilonPlacement.Decoupled")})]";
        string common = Maybe($"[LearningRate(0.01{Pick("", ", Decay = 0.1")})]") + Maybe($"[WeightDecay(0.01{Pick("", ", Decoupled = true")})]") + Maybe("[Maximize]");
        string momentum = $"[Momentum({Pick("0.9", "0", "Length = 10")}{Pick("", ", Dampening = 0.1", ", Nesterov = true", ", Style = MomentumStyle.Classic")})]";
        return common + r.Next(7) switch
        {
            0 => Maybe(firstMoment) + average + Maybe($"[BiasCorrection(BiasCorrectionMode.{Pick("Power", "MinT")})]") + epsilon + Maybe("[AmsGrad]") + Maybe($"[TrustRatio({Pick("", "Form = TrustRatioForm.Lars")})]"),
            1 => Maybe(momentum) + Maybe("[TrustRatio(Form = TrustRatioForm.Lars)]"),
            2 => $"[SecondMoment({Pick("Kind = SecondMomentKind.Sum", "Kind = SecondMomentKind.Mean", "Beta = 0.99", "Beta = 0.99, Centered = true")}{Pick("", ", InitialValue = 0.1")})]" + epsilon + Maybe(momentum),
            3 => "[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [NesterovMomentumDecay(0.004)]",
            4 => $"[FirstMoment(Beta = 0.9)] [SecondMoment(Beta = 0.999)] [BiasCorrection(BiasCorrectionMode.Power)] [Epsilon(1e-8)] [Rectified{Pick("", "(Threshold = 6)")}]",
            5 => "[SecondMoment(Beta = 0.9)] [Epsilon(1e-6, Placement = EpsilonPlacement.InsideSqrt)] [DeltaAccumulator]",
            _ => $"{firstMoment} [SecondMoment(Beta = 0.999, Kind = SecondMomentKind.InfinityNorm)] [Epsilon(1e-8)]" + Maybe("[BiasCorrection(BiasCorrectionMode.Power)]"),
        };
    }
}
