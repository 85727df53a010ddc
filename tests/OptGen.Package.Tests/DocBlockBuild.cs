using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OptGen.Package.Tests;

/// <summary>One compiled block: where its source went in the build.</summary>
/// <param name="Block">The block.</param>
/// <param name="Key">The name that marks it in the build: its namespace in the library, or its program's project.</param>
/// <param name="IsProgram">Whether it has top-level statements (and so is a program of its own).</param>
/// <param name="File">The source file it became, relative to the build folder.</param>
/// <param name="PageLines">For each line of that file (index 0 = line 1), the page's line, or 0 for a line the build added.</param>
public sealed record DocSource(CodeBlock Block, string Key, bool IsProgram, string File, IReadOnlyList<int> PageLines);

/// <summary>
/// Compiles C# blocks of the docs against the packed package, all in one <c>dotnet build</c>:
/// <list type="bullet">
/// <item>every block that only declares types goes into one library, each as its own file in a namespace of its own
/// (<c>DocBlocks.B07</c>, inserted before its first member unless the block declares a namespace itself);</item>
/// <item>every block with top-level statements, which C# allows in one file of an executable only, becomes the
/// <c>Program.cs</c> of a program of its own, exactly as written;</item>
/// <item>a <c>#line</c> directive maps every line back to the page, so an error reads
/// <c>docs/gpu.md(12,5): error CS0103</c>.</item>
/// </list>
/// The projects are <c>DocsConsumer/DocBlocks.csproj</c> (a console project's settings, warnings as errors) with the
/// generator running; they restore from the fixture's feed, into its isolated package folder.
/// </summary>
public sealed partial class DocBlockBuild
{
    private const string LibraryProject = "DocBlocks.Library";

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(1);

    private readonly string _root;

    private readonly IReadOnlyDictionary<string, string> _environment;

    private DocBlockBuild(string root, IReadOnlyDictionary<string, string> environment, CommandResult result, IReadOnlyList<DocSource> sources, string repositoryRoot)
    {
        _root = root;
        _environment = environment;
        Result = result;
        Sources = sources;
        Errors = MapErrors(result.Output, sources, repositoryRoot);
    }

    public CommandResult Result { get; }

    public IReadOnlyList<DocSource> Sources { get; }

    /// <summary>Each distinct compiler or build error, its location made relative to the repository, with the block it came from.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>Writes the projects for <paramref name="blocks"/> under the fixture's work folder and builds them.</summary>
    public static DocBlockBuild Run(PackageFixture fixture, IReadOnlyList<CodeBlock> blocks)
    {
        string root = Path.Combine(fixture.WorkDirectory, "docs");
        Directory.CreateDirectory(root);
        fixture.WriteNuGetConfig(root);
        foreach (string isolation in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Consumer", isolation), Path.Combine(root, isolation), overwrite: true);
        }

        string project = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "DocsConsumer", "DocBlocks.csproj"));
        var sources = new List<DocSource>();
        var projects = new List<string> { LibraryProject };
        WriteProject(root, LibraryProject, project);
        for (int i = 0; i < blocks.Count; i++)
        {
            CodeBlock block = blocks[i];
            CompilationUnitSyntax unit = CSharpSyntaxTree.ParseText(block.Text, ParseOptions).GetCompilationUnitRoot();
            bool program = unit.Members.Any(m => m is GlobalStatementSyntax);
            string key = program ? $"DocBlocks.Program{i:D2}" : $"DocBlocks.B{i:D2}";
            string file = program ? $"{key}/Program.cs" : $"{LibraryProject}/{key}.cs";
            if (program)
            {
                WriteProject(root, key, project);
                projects.Add(key);
            }

            (string text, int[] pageLines) = program ? WithLineDirective(block) : InNamespace(block, unit, key);
            File.WriteAllText(Path.Combine(root, file), text);
            sources.Add(new DocSource(block, key, program, file, pageLines));
        }

        string solution = Path.Combine(root, "DocBlocks.slnx");
        File.WriteAllText(
            solution,
            "<Solution>\n" + string.Concat(projects.Select(p => $"  <Project Path=\"{p}/{p}.csproj\" />\n")) + "</Solution>\n");

        CommandResult result = DotNetCli.Run(
            root,
            fixture.ConsumerEnvironment,
            PackageFixture.BuildTimeout,
            "build",
            solution,
            "-c", "Release",
            "-p:OptGenVersion=" + fixture.PackageVersion,
            "-warnaserror",
            "-nodeReuse:false",
            "-p:UseSharedCompilation=false",
            "-tl:off");
        return new DocBlockBuild(root, fixture.ConsumerEnvironment, result, sources, fixture.RepositoryRoot);
    }

    /// <summary>
    /// Runs every program block that built and does not use ILGPU (a GPU example needs a device this machine may
    /// not have); returns a message for each that failed or did not build.
    /// </summary>
    public IReadOnlyList<string> RunPrograms()
    {
        var failures = new List<string>();
        foreach (DocSource program in Sources.Where(s => s.IsProgram && !UsesIlgpu(s.Block)))
        {
            string assembly = Path.Combine(_root, program.Key, "bin", "Release", "net10.0", program.Key + ".dll");
            if (!File.Exists(assembly))
            {
                failures.Add($"{program.Block.Where}: the program did not build, so it was not run");
                continue;
            }

            CommandResult run = DotNetCli.Run(Path.GetDirectoryName(assembly)!, _environment, RunTimeout, "exec", assembly);
            if (!run.Succeeded)
            {
                failures.Add($"{program.Block.Where}: the program failed when run:\n{run}");
            }
        }

        return failures;
    }

    private static bool UsesIlgpu(CodeBlock block) =>
        CSharpSyntaxTree.ParseText(block.Text, ParseOptions).GetCompilationUnitRoot().Usings
            .Any(u => u.Name?.ToString() is { } name && (name == "ILGPU" || name.StartsWith("ILGPU.", StringComparison.Ordinal)));

    private static void WriteProject(string root, string name, string project)
    {
        Directory.CreateDirectory(Path.Combine(root, name));
        File.WriteAllText(Path.Combine(root, name, name + ".csproj"), project);
    }

    /// <summary>The next line is <paramref name="line"/> of the block's page.</summary>
    private static string LineDirective(CodeBlock block, int line) =>
        $"#line {line} \"{block.FullPath.Replace('\\', '/')}\"";

    /// <summary>The block as written, after a <c>#line</c> directive.</summary>
    private static (string Text, int[] PageLines) WithLineDirective(CodeBlock block) => InNamespace(block, unit: null, key: null);

    /// <summary>
    /// The block after a <c>#line</c> directive, with <c>namespace {key};</c> before its first member unless it
    /// declares a namespace itself (or <paramref name="key"/> is null).
    /// </summary>
    private static (string Text, int[] PageLines) InNamespace(CodeBlock block, CompilationUnitSyntax? unit, string? key)
    {
        string[] lines = block.Text.Split('\n');
        bool insert = key is not null && unit is not null && unit.Members.Count > 0 && !unit.Members.Any(m => m is BaseNamespaceDeclarationSyntax);

        // The line of the first member's first token (its attributes included), 0-based within the block.
        int split = insert ? unit!.Members[0].GetLocation().GetLineSpan().StartLinePosition.Line : lines.Length;
        var text = new StringBuilder();
        var pageLines = new List<int>();
        void Add(string line, int pageLine)
        {
            text.Append(line).Append('\n');
            pageLines.Add(pageLine);
        }

        Add(LineDirective(block, block.FirstLine), 0);
        for (int i = 0; i < lines.Length; i++)
        {
            if (insert && i == split)
            {
                Add($"namespace {key};", 0);
                Add(LineDirective(block, block.FirstLine + split), 0);
            }

            Add(lines[i], block.FirstLine + i);
        }

        return (text.ToString(), [.. pageLines]);
    }

    private static List<string> MapErrors(string output, IReadOnlyList<DocSource> sources, string repositoryRoot)
    {
        string rootPrefix = repositoryRoot.Replace('\\', '/').TrimEnd('/') + "/";
        var errors = new List<string>();
        foreach (Match match in ErrorLine().Matches(output))
        {
            string file = match.Groups["file"].Value.Trim().Replace('\\', '/');
            string message = $"{match.Groups["id"].Value}: {match.Groups["message"].Value.Trim()}";
            string project = match.Groups["project"].Value;
            string error;
            if (file.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
            {
                string page = file.StartsWith(rootPrefix, StringComparison.Ordinal) ? file[rootPrefix.Length..] : file;
                error = $"{page}:{match.Groups["line"].Value}: {message}";
            }
            else if (sources.FirstOrDefault(s => file.EndsWith("/" + s.File, StringComparison.Ordinal)) is { } written
                && int.TryParse(match.Groups["line"].Value, out int line) && line >= 1 && line <= written.PageLines.Count && written.PageLines[line - 1] > 0)
            {
                // A block's own file without the #line mapping: the generator's diagnostics carry the file's own lines.
                error = $"{written.Block.Page}:{written.PageLines[line - 1]}: {message}";
            }
            else
            {
                // Outside a page (generated code, the project): name the block by the key in the file or project name.
                DocSource? source = sources
                    .OrderByDescending(s => s.Key.Length)
                    .FirstOrDefault(s => file.Contains(s.Key, StringComparison.Ordinal) || (s.IsProgram && project.Contains(s.Key, StringComparison.Ordinal)));
                string where = source is null ? "no single block" : $"from the block at {source.Block.Where}";
                error = $"{(file.Length == 0 ? project : file)}{(match.Groups["line"].Success ? $"({match.Groups["line"].Value})" : string.Empty)}: {message} ({where})";
            }

            if (!errors.Contains(error))
            {
                errors.Add(error);
            }
        }

        return errors;
    }

    // MSBuild's canonical error format: "FILE(LINE,COL): error ID: MESSAGE [PROJECT]", or "FILE : error ID: …".
    [GeneratedRegex(@"^\s*(?<file>[^\r\n]*?)(?:\((?<line>\d+),\d+(?:,\d+,\d+)?\))?\s*:\s+error\s+(?<id>[A-Za-z]+\d+)\s*:\s*(?<message>[^\r\n]*?)(?:\s+\[(?<project>[^\]\r\n]+)\])?\r?$", RegexOptions.Multiline)]
    private static partial Regex ErrorLine();
}
