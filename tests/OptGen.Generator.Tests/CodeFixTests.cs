using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using OptGen.CodeFixes;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The "make the class partial" code fix, applied the way the IDE applies it: in a workspace, to the diagnostic the
/// generator reported. After the fix the class is partial, the diagnostic is gone, and the class generates.
/// </summary>
public sealed class CodeFixTests
{
    private const string Prefix = "using OptGen;\nnamespace Demo;\n\n";

    [Theory]
    [InlineData("OPTG0001", "[Optimizer] public sealed class Plain { }", "[Optimizer] public sealed partial class Plain { }", "Plain")]
    [InlineData("OPTG0001", "[Optimizer]\n[FirstMoment(Beta = 0.9)]\nclass Bare;", "[Optimizer]\n[FirstMoment(Beta = 0.9)]\npartial class Bare;", "Bare")]
    [InlineData("OPTG0001", "/// <summary>Docs.</summary>\n[Optimizer]\n    internal class Indented { }", "/// <summary>Docs.</summary>\n[Optimizer]\n    internal partial class Indented { }", "Indented")]
    [InlineData("OPTG0005", "public class Outer\n{\n    [Optimizer] public partial class Inner;\n}", "public partial class Outer\n{\n    [Optimizer] public partial class Inner;\n}", "Outer")]
    public async Task MakesTheTypePartialAndTheDiagnosticGoesAway(string id, string before, string after, string typeName)
    {
        using var workspace = new AdhocWorkspace();
        Project project = workspace.AddProject(ProjectInfo.Create(
            ProjectId.CreateNewId(),
            VersionStamp.Default,
            "Consumer",
            "Consumer",
            LanguageNames.CSharp,
            compilationOptions: new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable),
            parseOptions: GeneratorHarness.ParseOptions(),
            metadataReferences: GeneratorHarness.MetadataReferences));
        Document document = workspace.AddDocument(project.Id, "Consumer.cs", SourceText.From(Prefix + before));

        Diagnostic diagnostic = Assert.Single(await OptGenDiagnosticsAsync(document));
        Assert.Equal(id, diagnostic.Id);

        var actions = new List<CodeAction>();
        var context = new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None);
        var provider = new MakePartialCodeFixProvider();
        Assert.Contains(id, provider.FixableDiagnosticIds);
        await provider.RegisterCodeFixesAsync(context);
        CodeAction fix = Assert.Single(actions);
        Assert.Equal($"Make '{typeName}' partial", fix.Title);

        ImmutableArray<CodeActionOperation> operations = await fix.GetOperationsAsync(CancellationToken.None);
        Solution changed = Assert.Single(operations.OfType<ApplyChangesOperation>()).ChangedSolution;
        Assert.True(workspace.TryApplyChanges(changed));
        Document fixedDocument = workspace.CurrentSolution.GetDocument(document.Id)!;
        string text = (await fixedDocument.GetTextAsync()).ToString();
        Assert.Equal(Prefix + after, text);

        Assert.Empty(await OptGenDiagnosticsAsync(fixedDocument));
        GeneratorHarness.Run run = GeneratorHarness.Generate(text);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.NotEmpty(run.Files);
    }

    [Fact]
    public async Task OffersNothingForAClassThatIsAlreadyPartial()
    {
        using var workspace = new AdhocWorkspace();
        Project project = workspace.AddProject("Consumer", LanguageNames.CSharp);
        Document document = workspace.AddDocument(project.Id, "Consumer.cs", SourceText.From(Prefix + "[Optimizer] public partial class Done;"));
        SyntaxTree tree = (await document.GetSyntaxTreeAsync())!;
        int at = tree.ToString().IndexOf("Done", StringComparison.Ordinal);
        Diagnostic stale = Diagnostic.Create(
            new DiagnosticDescriptor("OPTG0001", "t", "m", "OptGen", DiagnosticSeverity.Error, true),
            Location.Create(tree, new TextSpan(at, 4)));
        var actions = new List<CodeAction>();
        await new MakePartialCodeFixProvider().RegisterCodeFixesAsync(new CodeFixContext(document, stale, (a, _) => actions.Add(a), CancellationToken.None));
        Assert.Empty(actions);
    }

    private static async Task<IReadOnlyList<Diagnostic>> OptGenDiagnosticsAsync(Document document)
    {
        Compilation compilation = (await document.Project.GetCompilationAsync())!;
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out _, out ImmutableArray<Diagnostic> diagnostics);
        return diagnostics.Where(d => d.Id.StartsWith("OPTG", StringComparison.Ordinal)).ToList();
    }
}
