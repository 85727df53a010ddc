using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;

using OptGen.Testing;

namespace OptGen.Generator.Tests;

/// <summary>
/// A golden snapshot of the generated optimizer and kernel for every built-in optimizer: each class declared in
/// src/Runtime/Catalog is read from its source file (attributes and documentation as shipped), compiled alone in
/// a namespace of its own, and its two generated files are compared with Snapshots/Catalog.*.verified.cs.
/// </summary>
public sealed class CatalogSnapshotTests
{
    public static TheoryData<string> CatalogClasses => new(Declarations().Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(CatalogClasses))]
    public void GeneratedCodeMatchesSnapshot(string name)
    {
        string source = "using OptGen;\nnamespace Catalog;\n\n" + Declarations()[name];
        GeneratorHarness.Run run = GeneratorHarness.Generate(source);

        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Equal(2, run.Files.Count);
        Snapshot.VerifyAll(run.Files.OrderBy(f => f.Key, StringComparer.Ordinal)
            .Select(file => ($"Catalog.{name}.{(file.Key.StartsWith("OptGen.Generated.", StringComparison.Ordinal) ? "Kernel" : "Optimizer")}", file.Value)));
    }

    [Fact]
    public void EveryCatalogOptimizerHasASnapshot()
    {
        string[] shipped = typeof(OptGen.Optimizer).Assembly.GetTypes()
            // The rules with reductions are written by hand on MultiPassOptimizer (docs/reductions.md): no generated code to snapshot.
            .Where(t => t.Namespace == "OptGen" && t.IsSubclassOf(typeof(OptGen.Optimizer)) && !t.IsAbstract && !t.IsSubclassOf(typeof(OptGen.MultiPassOptimizer)))
            .Select(t => t.Name)
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(shipped, Declarations().Keys.Order(StringComparer.Ordinal).ToArray());
        Assert.True(shipped.Length >= 24, $"only {shipped.Length} catalog optimizers");
    }

    /// <summary>Class name → its declaration (documentation, attributes, class) as written in src/Runtime/Catalog.</summary>
    internal static Dictionary<string, string> Declarations([CallerFilePath] string caller = "")
    {
        string catalog = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(caller)!, "..", "..", "src", "Runtime", "Catalog"));
        var declarations = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(catalog, "*.cs"))
        {
            CompilationUnitSyntax root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetCompilationUnitRoot();
            foreach (ClassDeclarationSyntax declaration in root.DescendantNodes().OfType<ClassDeclarationSyntax>())
            {
                if (declaration.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString() is "Optimizer" or "OptimizerAttribute"))
                {
                    declarations.Add(declaration.Identifier.Text, declaration.ToFullString().Trim('\r', '\n') + "\n");
                }
            }
        }

        return declarations;
    }
}
