using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using OptGen.Generator;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>Runs <see cref="OptGenGenerator"/> in-process over source text, as the compiler would.</summary>
internal static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return tpa.Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(OptGen.Optimizer).Assembly.Location))
            .ToImmutableArray();
    });

    /// <summary>The framework and OptGen runtime references every test compilation uses.</summary>
    public static ImmutableArray<MetadataReference> MetadataReferences => References.Value;

    public static CSharpParseOptions ParseOptions(LanguageVersion version = LanguageVersion.Latest) =>
        new(version);

    public static CSharpCompilation Compilation(string source, LanguageVersion version = LanguageVersion.Latest) =>
        CSharpCompilation.Create(
            "Consumer",
            new[] { CSharpSyntaxTree.ParseText(source, ParseOptions(version), path: "Consumer.cs") },
            References.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                generalDiagnosticOption: ReportDiagnostic.Error,
                warningLevel: 9999, // every warning wave, as the SDK's default AnalysisLevel turns on for a consumer
                allowUnsafe: false));

    public static GeneratorDriver Driver(LanguageVersion version = LanguageVersion.Latest) =>
        CSharpGeneratorDriver.Create(
            new[] { new OptGenGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions(version),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>
    /// Runs the generator; returns the generated files, the generator's diagnostics and the compiler's diagnostics on
    /// the result. With <paramref name="ilgpu"/> the compilation references ILGPU, so the GPU half is generated too.
    /// </summary>
    /// <summary>
    /// Generates <paramref name="source"/> with ILGPU referenced and asserts it is a clean, valid declaration: the
    /// generator did not throw, reported no OPTG diagnostic, the result compiles without errors, and a GPU optimizer
    /// was generated.
    /// </summary>
    public static void AssertCompilesCleanly(string source)
    {
        Run run = Generate(source, ilgpu: true);
        Assert.Empty(run.Exceptions);
        Assert.Empty(run.OptGenDiagnostics);
        Assert.Empty(run.Errors);
        Assert.Contains(run.Files.Keys, k => k.EndsWith(".Gpu.g.cs", StringComparison.Ordinal));
    }

    public static Run Generate(string source, LanguageVersion version = LanguageVersion.Latest, bool ilgpu = false) =>
        Generate(Compilation(source, version), version, ilgpu);

    /// <summary>As <see cref="Generate(string, LanguageVersion, bool)"/>, over a compilation of several files (each its own syntax tree).</summary>
    public static Run Generate(string[] files, bool ilgpu = false) =>
        Generate(Compilation(files[0]).AddSyntaxTrees(files.Skip(1).Select((f, i) => CSharpSyntaxTree.ParseText(f, ParseOptions(), path: $"Consumer{i + 2}.cs"))), LanguageVersion.Latest, ilgpu);

    /// <summary>The compilation with a reference to ILGPU, which makes the generator emit GPU kernels.</summary>
    public static CSharpCompilation WithIlgpu(CSharpCompilation compilation) =>
        compilation.AddReferences(MetadataReference.CreateFromFile(typeof(ILGPU.Index1D).Assembly.Location));

    private static Run Generate(CSharpCompilation compilation, LanguageVersion version, bool ilgpu)
    {
        if (ilgpu)
        {
            compilation = WithIlgpu(compilation);
        }

        GeneratorDriver driver = Driver(version).RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        GeneratorDriverRunResult result = driver.GetRunResult();
        var files = result.Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        ImmutableArray<Diagnostic> compileDiagnostics = output.GetDiagnostics();
        return new Run(files, generatorDiagnostics.AddRange(result.Diagnostics).Distinct().ToImmutableArray(), compileDiagnostics, result.Results.Select(r => r.Exception).Where(e => e is not null).ToList()!);
    }

    internal sealed record Run(
        IReadOnlyDictionary<string, string> Files,
        ImmutableArray<Diagnostic> GeneratorDiagnostics,
        ImmutableArray<Diagnostic> CompileDiagnostics,
        IReadOnlyList<Exception> Exceptions)
    {
        public IEnumerable<Diagnostic> OptGenDiagnostics => GeneratorDiagnostics.Where(d => d.Id.StartsWith("OPTG", StringComparison.Ordinal));

        public IEnumerable<Diagnostic> Errors => CompileDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning);
    }
}
