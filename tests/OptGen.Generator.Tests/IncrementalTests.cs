using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The generator lives inside every keystroke of an IDE: an edit that does not touch an optimizer must not redo
/// its work, and the pipeline's model must hold no Roslyn object that would defeat the cache or keep a whole
/// compilation alive.
/// </summary>
public sealed class IncrementalTests
{
    private const string Optimizers = """
        using OptGen;
        namespace Demo;

        [Optimizer]
        [FirstMoment(Beta = 0.9)]
        [SecondMoment(Beta = 0.999)]
        [BiasCorrection(BiasCorrectionMode.Power)]
        [Epsilon(1e-8)]
        public partial class AdamA;

        [Optimizer]
        [LearningRate(0.1)]
        [Momentum(0.9, Nesterov = true)]
        public partial class Nesterov;

        [Optimizer]
        [FirstMoment(Beta = -1)]
        public partial class Broken;

        [SecondMoment(Beta = 0.9)]
        public partial class NotAnOptimizer;
        """;

    private const string SameRuleElsewhere = """
        using OptGen;
        namespace Other;

        [Optimizer]
        [FirstMoment(Length = 10)]
        [SecondMoment(Length = 1000)]
        [BiasCorrection(BiasCorrectionMode.Power)]
        [Epsilon(1e-8)]
        public partial class AdamB;
        """;

    private const string Unrelated = """
        namespace Demo;
        public static class Helpers
        {
            public static int Compute(int x) => x + 1;
        }
        """;

    private static readonly string[] StepNames = typeof(TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(Optimizers)
            .AddSyntaxTrees(
                CSharpSyntaxTree.ParseText(SameRuleElsewhere, GeneratorHarness.ParseOptions(), path: "Other.cs"),
                CSharpSyntaxTree.ParseText(Unrelated, GeneratorHarness.ParseOptions(), path: "Helpers.cs"));
        GeneratorDriver driver = GeneratorHarness.Driver().RunGenerators(compilation);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);

        // Sanity of the first run: the two Adams (declared by β and by length, in two files) share one kernel.
        Assert.Single(result.GeneratedSources, s => s.SourceText.ToString().Contains("<see cref=\"global::Demo.AdamA\"/>, <see cref=\"global::Other.AdamB\"/>", StringComparison.Ordinal));
        Assert.Equal(2, result.GeneratedSources.Count(s => s.HintName.StartsWith("OptGen.Generated.", StringComparison.Ordinal)));
        Assert.Contains(result.Diagnostics, d => d.Id == "OPTG0009");
        Assert.Contains(result.Diagnostics, d => d.Id == "OPTG0019");
        foreach (string name in StepNames)
        {
            Assert.True(result.TrackedSteps.ContainsKey(name), $"tracked step '{name}' did not run");
        }

        return (driver, compilation);
    }

    private static void AssertNothingRecomputed(GeneratorDriver driver)
    {
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);
        var problems = new List<string>();
        foreach (string name in StepNames)
        {
            foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[name])
            {
                problems.AddRange(step.Outputs
                    .Where(o => o.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
                    .Select(o => $"{name}: {o.Reason} {o.Value}"));
            }
        }

        foreach (KeyValuePair<string, System.Collections.Immutable.ImmutableArray<IncrementalGeneratorRunStep>> output in result.TrackedOutputSteps)
        {
            problems.AddRange(output.Value.SelectMany(s => s.Outputs)
                .Where(o => o.Reason is not (IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged))
                .Select(o => $"{output.Key}: {o.Reason}"));
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void AddingAnUnrelatedFileRecomputesNothing()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        CSharpCompilation edited = compilation.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace Demo; internal sealed class Added { public int Value { get; set; } }", GeneratorHarness.ParseOptions(), path: "Added.cs"));
        AssertNothingRecomputed(driver.RunGenerators(edited));
    }

    [Fact]
    public void EditingAMethodBodyElsewhereRecomputesNothing()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        SyntaxTree helpers = compilation.SyntaxTrees.Single(t => t.FilePath == "Helpers.cs");
        string text = helpers.ToString();
        int at = text.IndexOf("x + 1", StringComparison.Ordinal);
        SyntaxTree changed = helpers.WithChangedText(helpers.GetText().WithChanges(new TextChange(new TextSpan(at, 5), "x * 2 + 1")));
        AssertNothingRecomputed(driver.RunGenerators(compilation.ReplaceSyntaxTree(helpers, changed)));
    }

    [Fact]
    public void EditingAnOptimizerIsSeen()
    {
        // The control: the cache test above can fail. Changing β₁ of one optimizer re-parses it.
        (GeneratorDriver driver, CSharpCompilation compilation) = FirstRun();
        SyntaxTree tree = compilation.SyntaxTrees.Single(t => t.FilePath == "Other.cs");
        string text = tree.ToString();
        int at = text.IndexOf("Length = 10)", StringComparison.Ordinal);
        SyntaxTree changed = tree.WithChangedText(tree.GetText().WithChanges(new TextChange(new TextSpan(at, 11), "Length = 20")));
        GeneratorRunResult result = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, changed)).GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[TrackingNames.Parse].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains(result.TrackedSteps[TrackingNames.Lower].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    // Roslyn objects the model must never hold. DiagnosticDescriptor, TextSpan and LinePositionSpan are immutable
    // values and allowed.
    private static readonly Type[] Forbidden =
    {
        typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Compilation), typeof(SemanticModel),
        typeof(Location), typeof(AttributeData), typeof(SyntaxReference), typeof(TypedConstant), typeof(SyntaxToken),
    };

    [Fact]
    public void EveryModelValueIsFreeOfRoslynObjects()
    {
        (GeneratorDriver driver, _) = FirstRun();
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        var problems = new List<string>();
        int walked = 0;

        // The last step before reporting holds the diagnostics located in the compilation's syntax trees, on
        // purpose: a source location is what #pragma and .editorconfig apply to. It stays equal (its output cached)
        // while the files it points into are unchanged (AssertNothingRecomputed checks it with the others).
        foreach (string name in StepNames.Where(n => n != TrackingNames.Locate))
        {
            foreach (IncrementalGeneratorRunStep step in result.TrackedSteps[name])
            {
                foreach ((object value, IncrementalStepRunReason _) in step.Outputs)
                {
                    WalkValue(value, name, problems, new HashSet<object>(ReferenceEqualityComparer.Instance), ref walked);
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.True(walked > 200, $"only {walked} objects were walked; the walk does not reach the model");
    }

    [Fact]
    public void EveryModelTypeIsFreeOfRoslynTypes()
    {
        var problems = new List<string>();
        Type[] roots =
        {
            typeof(OptGen.Generator.Model.ParseResult), typeof(OptGen.Generator.Model.OptimizerModel), typeof(OptGen.Generator.Model.KernelModel),
            typeof(OptGen.Generator.Model.KernelUse), typeof(OptGen.Generator.Diagnostics.DiagnosticInfo),
        };
        var visited = new HashSet<Type>();
        foreach (Type root in roots)
        {
            WalkType(root, root.Name, problems, visited);
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Contains(typeof(OptGen.Generator.Model.Expr), visited);
        Assert.Contains(typeof(OptGen.Generator.Model.SecondMomentSpec), visited);
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal)
        || type == typeof(DiagnosticDescriptor) || type == typeof(TextSpan) || type == typeof(LinePositionSpan) || type == typeof(LinePosition);

    private static void WalkType(Type type, string path, List<string> problems, HashSet<Type> visited)
    {
        if (IsLeaf(type) || !visited.Add(type))
        {
            return;
        }

        if (Forbidden.Any(f => f.IsAssignableFrom(type)) || type == typeof(object) || type.IsInterface && !type.IsGenericType)
        {
            problems.Add($"{path}: {type}");
            return;
        }

        if (type.IsArray)
        {
            WalkType(type.GetElementType()!, path + "[]", problems, visited);
            return;
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            WalkType(underlying, path, problems, visited);
            return;
        }

        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            WalkType(field.FieldType, $"{path}.{field.Name}", problems, visited);
        }
    }

    private static void WalkValue(object? value, string path, List<string> problems, HashSet<object> visited, ref int walked)
    {
        if (value is null || IsLeaf(value.GetType()))
        {
            return;
        }

        Type type = value.GetType();
        if (!type.IsValueType && !visited.Add(value))
        {
            return;
        }

        walked++;
        if (Forbidden.Any(f => f.IsInstanceOfType(value)))
        {
            problems.Add($"{path}: {type}");
            return;
        }

        if (value is IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items)
            {
                WalkValue(item, $"{path}[{i++}]", problems, visited, ref walked);
            }

            return;
        }

        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            WalkValue(field.GetValue(value), $"{path}.{field.Name}", problems, visited, ref walked);
        }
    }
}
