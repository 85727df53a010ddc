using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Package.Tests;

/// <summary>
/// Every C# block of README.md, docs/*.md and the package's README (src/Packaging/PackageReadme.md, what nuget.org
/// shows) compiles against the packed package, so the docs cannot drift from the API. The convention, for everyone who writes docs:
/// <list type="bullet">
/// <item><c>```csharp</c>: a complete source file. It must compile as a file of a user's project (a console
/// project, Nullable and implicit usings on, warnings as errors) that references the OptGen package, with the
/// generator running, so the generated code for its declarations compiles too. Top-level statements are fine: such
/// a block is compiled as the Program.cs of a program of its own, and run: it must exit with 0 (unless it uses
/// ILGPU, as a GPU example needs a device).</item>
/// <item><c>```csharp fragment</c>: a part of a file (statements that use variables defined elsewhere, a member, a
/// mistake shown next to its fix); skipped, and counted.</item>
/// </list>
/// Any other fence that names C# (<c>cs</c>, <c>c#</c>, a misspelled <c>fragment</c>) fails, so no block escapes the
/// check by its spelling. ILGPU comes with the package, so blocks that use it (docs/gpu.md) compile the same way.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class DocsCompileTests(PackageFixture fixture, ITestOutputHelper output)
{
    public const string Compiled = "csharp";

    public const string Fragment = "csharp fragment";

    /// <summary>
    /// A block with a known mistake, built with the docs' blocks: the build must report exactly its error, at its
    /// line, which shows that an error in a page is found and located (and that the build really compiled).
    /// </summary>
    private static readonly string CanaryText = string.Join(
        '\n',
        "using OptGen;",
        string.Empty,
        "[Optimizer]",
        "[FirstMoment(Length = 0)]",
        "public partial class Canary;");

    public static IEnumerable<string> Pages(string repositoryRoot) =>
        new[] { "README.md", "src/Packaging/PackageReadme.md" }.Concat(
            Directory.GetFiles(Path.Combine(repositoryRoot, "docs"), "*.md")
                .Select(f => "docs/" + Path.GetFileName(f))
                .Order(StringComparer.Ordinal));

    [Fact]
    public void EveryCSharpBlockInTheDocsCompilesAgainstThePackage()
    {
        Assert.True(fixture.Pack.Succeeded, $"dotnet pack failed, so the docs were not compiled:\n{fixture.Pack}");

        var blocks = Pages(fixture.RepositoryRoot).SelectMany(p => MarkdownCodeBlocks.Read(fixture.RepositoryRoot, p)).ToList();
        var misspelled = blocks.Where(b => NamesCSharp(b.Info) && b.Info != Compiled && b.Info != Fragment).ToList();
        Assert.True(
            misspelled.Count == 0,
            $"C# blocks must be fenced ```{Compiled} (compiled) or ```{Fragment} (skipped); these are not: "
            + string.Join(", ", misspelled.Select(b => $"{b.Where} ```{b.Info}")));

        var compiled = blocks.Where(b => b.Info == Compiled).ToList();
        string counts = string.Join(
            "\n",
            blocks.Where(b => b.Info is Compiled or Fragment)
                .GroupBy(b => b.Page)
                .Select(g => $"  {g.Key}: {g.Count(b => b.Info == Compiled)} compiled, {g.Count(b => b.Info == Fragment)} fragments"));
        output.WriteLine("C# blocks per page:\n" + counts);
        Assert.Contains(compiled, b => b.Page == "README.md");

        var canary = new CodeBlock("canary.md", Path.Combine(fixture.RepositoryRoot, "canary.md"), 1, Compiled, CanaryText);
        DocBlockBuild build = DocBlockBuild.Run(fixture, [.. compiled, canary]);
        string blockList = string.Join("\n", build.Sources.Select(s => $"  {s.Key}: {s.Block.Where}"));
        output.WriteLine($"Compiled {compiled.Count} blocks:\n{blockList}");

        // The canary's [FirstMoment(Length = 0)] is on its line 4: the generator's OPTG0008, at the argument.
        string[] canaryErrors = build.Errors.Where(e => e.StartsWith("canary.md:", StringComparison.Ordinal)).ToArray();
        string[] docErrors = build.Errors.Except(canaryErrors).ToArray();
        Assert.True(
            docErrors.Length == 0,
            $"{docErrors.Length} error(s) in the docs' C# blocks (fence a block that is not a complete file ```{Fragment}):\n"
            + string.Join("\n", docErrors) + $"\n\nC# blocks per page:\n{counts}\nThe blocks in the build:\n{blockList}\n\nThe build:\n{build.Result}");
        IReadOnlyList<string> runFailures = build.RunPrograms();
        Assert.True(runFailures.Count == 0, $"{runFailures.Count} program block(s) failed to run:\n" + string.Join("\n\n", runFailures));
        Assert.True(
            canaryErrors.Length == 1 && canaryErrors[0].StartsWith("canary.md:4: OPTG0008:", StringComparison.Ordinal),
            $"The deliberate mistake was not reported once at canary.md:4 as OPTG0008, so the check itself is broken:\n{string.Join("\n", canaryErrors)}\n\n{build.Result}");
    }

    [Fact]
    public void BlocksAreReadWithTheirPageLineAndFence()
    {
        string root = Path.Combine(Path.GetTempPath(), "optgen-docs-blocks-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllText(
                Path.Combine(root, "page.md"),
                "# Page\r\n\r\n```csharp\r\nclass A;\r\n```\r\n\r\n1. step\r\n\r\n   ~~~~csharp fragment\r\n   x = 1;\r\n     y = 2;\r\n   ~~~~\r\n\r\n```\r\nplain\r\n````\r\n");
            IReadOnlyList<CodeBlock> blocks = MarkdownCodeBlocks.Read(root, "page.md");

            Assert.Equal(3, blocks.Count);
            Assert.Equal(("page.md:4", Compiled, "class A;"), (blocks[0].Where, blocks[0].Info, blocks[0].Text));
            Assert.Equal(("page.md:10", Fragment, "x = 1;\n  y = 2;"), (blocks[1].Where, blocks[1].Info, blocks[1].Text));
            Assert.Equal(("page.md:15", string.Empty, "plain"), (blocks[2].Where, blocks[2].Info, blocks[2].Text));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static bool NamesCSharp(string info)
    {
        string language = info.Split(' ', 2)[0].ToLowerInvariant();
        return language is "csharp" or "cs" or "c#" or "csharp-fragment" || language.StartsWith("csharp", StringComparison.Ordinal);
    }
}
