using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The generator's warnings (OPTG0019, OPTG0138–OPTG0141) can be silenced where they are reported, as a compiler
/// warning can: <c>#pragma warning disable</c> around the declaration, <c>[SuppressMessage]</c>, and a severity
/// for the file in .editorconfig. Roslyn applies these only to a diagnostic located in a syntax tree of the
/// compilation (dotnet/roslyn#68291), so the pipeline reports at source locations, not at a path and a line. Checked
/// on the diagnostics the driver filters, which are what a build prints.
/// </summary>
public sealed class SuppressionTests
{
    private const string Rule = "[Optimizer] [Hyperparameter(\"Lr\", 0.1)] [State(\"zero\")] [Update(\"p = p - Lr * (g + zero)\")]";

    private static ImmutableArray<Diagnostic> Reported(CSharpCompilation compilation)
    {
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out _, out ImmutableArray<Diagnostic> diagnostics);
        return diagnostics;
    }

    [Fact]
    public void APragmaAroundTheDeclarationSilencesTheWarningThereOnly()
    {
        ImmutableArray<Diagnostic> reported = Reported(GeneratorHarness.Compilation(
            "using OptGen;\nnamespace Demo;\n#pragma warning disable OPTG0141\n" + Rule + " public partial class Quiet;\n#pragma warning restore OPTG0141\n" + Rule + " public partial class Loud;\n"));
        Assert.Equal(2, reported.Count(x => x.Id == "OPTG0141"));
        Diagnostic d = Assert.Single(reported, x => x.Id == "OPTG0141" && !x.IsSuppressed); // the other is reported as suppressed, as the compiler's own are
        Assert.Contains("'Loud'", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), System.StringComparison.Ordinal);
        Assert.Equal(LocationKind.SourceFile, d.Location.Kind);
    }

    [Fact]
    public void SuppressMessageOnTheClassSilencesTheWarning()
    {
        ImmutableArray<Diagnostic> reported = Reported(GeneratorHarness.Compilation(
            "using OptGen;\nnamespace Demo;\n[System.Diagnostics.CodeAnalysis.SuppressMessage(\"OptGen\", \"OPTG0141\")] " + Rule + " public partial class Quiet;\n"));
        Assert.DoesNotContain(reported, x => x.Id == "OPTG0141" && !x.IsSuppressed);
    }

    [Fact]
    public void ASeverityForTheFileSilencesTheWarningInThatFileOnly()
    {
        // What .editorconfig's [Quiet.cs] dotnet_diagnostic.OPTG0141.severity = none gives the compiler: options of that tree.
        SyntaxTree quiet = CSharpSyntaxTree.ParseText("using OptGen;\nnamespace Demo;\n" + Rule + " public partial class Quiet;\n", GeneratorHarness.ParseOptions(), path: "Quiet.cs");
        SyntaxTree loud = CSharpSyntaxTree.ParseText("using OptGen;\nnamespace Demo;\n" + Rule + " public partial class Loud;\n", GeneratorHarness.ParseOptions(), path: "Loud.cs");
        CSharpCompilation compilation = GeneratorHarness.Compilation(string.Empty).AddSyntaxTrees(quiet, loud);
        compilation = compilation.WithOptions(compilation.Options.WithSyntaxTreeOptionsProvider(new TreeOptions(quiet)));
        Diagnostic d = Assert.Single(Reported(compilation), x => x.Id == "OPTG0141");
        Assert.Equal("Loud.cs", d.Location.GetLineSpan().Path);
    }

    private sealed class TreeOptions(SyntaxTree quiet) : SyntaxTreeOptionsProvider
    {
        public override GeneratedKind IsGenerated(SyntaxTree tree, System.Threading.CancellationToken cancellationToken) => GeneratedKind.Unknown;

        public override bool TryGetDiagnosticValue(SyntaxTree tree, string diagnosticId, System.Threading.CancellationToken cancellationToken, out ReportDiagnostic severity)
        {
            severity = ReportDiagnostic.Suppress;
            return tree == quiet && diagnosticId == "OPTG0141";
        }

        public override bool TryGetGlobalDiagnosticValue(string diagnosticId, System.Threading.CancellationToken cancellationToken, out ReportDiagnostic severity)
        {
            severity = ReportDiagnostic.Default;
            return false;
        }
    }
}
