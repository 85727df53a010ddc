using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// The generator never throws, whatever is typed: thousands of random declarations (random attribute subsets,
/// NaN, ±∞, negative, huge and tiny values and float32's range edges, undefined enum values, repeated attributes,
/// malformed arguments, every kind of type declaration, primary constructors, optimizers whose names differ only in
/// case) each either compile cleanly with the generated code or carry at least one OPTG
/// diagnostic. Each declaration is its own file and namespace so that every diagnostic can be attributed to it;
/// many share one compilation to keep the test fast. The seed is fixed; a failure prints the case's seed and source.
/// </summary>
public sealed class FuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The fixed seed; <c>OPTGEN_FUZZ_SEED</c> overrides it to explore (a failure prints the seed either way).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("OPTGEN_FUZZ_SEED"), out int seed) ? seed : 4_2026_1123;
    private const int Cases = 5_000;
    private const int CasesPerCompilation = 250;

    [Fact]
    public void RandomDeclarationsNeverCrashAndAreEitherCleanOrDiagnosed()
    {
        var failures = new List<string>();
        int clean = 0, diagnosed = 0, generated = 0;
        for (int first = 0; first < Cases && failures.Count < 5; first += CasesPerCompilation)
        {
            var cases = Enumerable.Range(first, CasesPerCompilation).Select(i => (Index: i, Seed: CaseSeed(i))).ToList();
            var sources = cases.Select(c => Declare(c.Index, new Random(c.Seed))).ToList();
            (int c, int d, int g) = RunBatch(cases.Select(c => c.Index).ToList(), cases.Select(c => c.Seed).ToList(), sources, failures);
            clean += c;
            diagnosed += d;
            generated += g;
        }

        output.WriteLine($"seed {Seed}: {Cases} cases, {clean} clean, {diagnosed} with an OPTG diagnostic, {generated} generated an optimizer");
        Assert.True(failures.Count == 0, $"Fuzz seed {Seed}: {failures.Count} failing case(s). Reproduce one with FuzzTests.Declare(index, new Random(seed)).\n\n" + string.Join("\n\n", failures));
        Assert.Equal(Cases, clean + diagnosed);

        // The generator of cases must exercise both outcomes substantially, or the test proves little.
        Assert.True(clean > Cases / 10, $"only {clean} clean cases");
        Assert.True(diagnosed > Cases / 10, $"only {diagnosed} diagnosed cases");
        Assert.True(generated > Cases / 10, $"only {generated} cases generated an optimizer");
    }

    private static int CaseSeed(int index) => unchecked((Seed * 31) + (index * 7919) + 17);

    private static (int Clean, int Diagnosed, int Generated) RunBatch(List<int> indices, List<int> seeds, List<string> sources, List<string> failures)
    {
        CSharpParseOptions options = GeneratorHarness.ParseOptions();
        CSharpCompilation compilation = GeneratorHarness.Compilation(string.Empty)
            .AddSyntaxTrees(sources.Select((s, k) => CSharpSyntaxTree.ParseText(s, options, path: $"Case{indices[k]}.cs")));

        GeneratorDriver driver = GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> driverDiagnostics);
        GeneratorDriverRunResult run = driver.GetRunResult();
        string batch = $"cases {indices[0]}..{indices[^1]}";
        foreach (GeneratorRunResult result in run.Results.Where(r => r.Exception is not null))
        {
            failures.Add($"{batch}: the generator threw {result.Exception}");
            return (0, 0, 0);
        }

        foreach (Diagnostic crash in driverDiagnostics.Concat(run.Diagnostics).Where(d => d.Id is "CS8784" or "CS8785"))
        {
            failures.Add($"{batch}: {crash}");
            return (0, 0, 0);
        }

        var optgen = new Dictionary<int, List<Diagnostic>>();
        var compiler = new Dictionary<int, List<Diagnostic>>();
        var generatedFiles = run.Results.SelectMany(r => r.GeneratedSources).Select(s => s.HintName).ToList();
        foreach (Diagnostic diagnostic in run.Diagnostics)
        {
            int? owner = Owner(diagnostic);
            if (owner is null)
            {
                failures.Add($"{batch}: an OPTG diagnostic outside every case: {diagnostic}");
                continue;
            }

            optgen.TryAdd(owner.Value, new List<Diagnostic>());
            optgen[owner.Value].Add(diagnostic);
        }

        // Compile only what the verdict needs: the files of cases without an OPTG diagnostic, their generated
        // files, and each generated kernel once per test run (kernels are shared across cases and batches).
        var compiled = new List<Diagnostic>();
        foreach (SyntaxTree tree in output.SyntaxTrees)
        {
            string file = System.IO.Path.GetFileName(tree.FilePath);
            bool kernel = file.StartsWith("OptGen.Generated.", StringComparison.Ordinal);
            bool needed = kernel ? CompiledKernels.Add(file) : Owner(file) is int owner && !optgen.ContainsKey(owner);
            if (needed)
            {
                compiled.AddRange(output.GetSemanticModel(tree).GetDiagnostics());
            }
        }

        foreach (Diagnostic diagnostic in compiled)
        {
            if (diagnostic.Severity < DiagnosticSeverity.Warning)
            {
                continue;
            }

            int? owner = Owner(diagnostic);
            if (owner is null)
            {
                failures.Add($"{batch}: a diagnostic in a generated kernel or without a location: {diagnostic}");
                continue;
            }

            compiler.TryAdd(owner.Value, new List<Diagnostic>());
            compiler[owner.Value].Add(diagnostic);
        }

        int clean = 0, diagnosed = 0, generated = 0;
        for (int k = 0; k < indices.Count; k++)
        {
            int index = indices[k];
            bool hasOptGen = optgen.TryGetValue(index, out List<Diagnostic>? mine);
            bool hasOptGenError = hasOptGen && mine!.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error);
            bool emitted = generatedFiles.Any(h => h.StartsWith($"Fuzz{index}.", StringComparison.Ordinal) && !h.EndsWith(".Second.g.cs", StringComparison.Ordinal)
                && !h.StartsWith($"Fuzz{index}.Twin", StringComparison.OrdinalIgnoreCase));
            generated += emitted ? 1 : 0;
            if (hasOptGen)
            {
                diagnosed++;
            }
            else if (!compiler.ContainsKey(index))
            {
                clean++;
            }
            else
            {
                failures.Add(Describe(index, seeds[k], sources[k], "compiler diagnostics without any OPTG diagnostic", compiler[index]));
            }

            if (hasOptGenError && emitted)
            {
                failures.Add(Describe(index, seeds[k], sources[k], "an OPTG error, yet code was generated for it", mine!));
            }
        }

        return (clean, diagnosed, generated);
    }

    private static readonly HashSet<string> CompiledKernels = new(StringComparer.Ordinal);

    /// <summary>The case a diagnostic belongs to: by its source file, or by the generated file's hint name.</summary>
    private static int? Owner(Diagnostic diagnostic) => Owner(System.IO.Path.GetFileName(diagnostic.Location.GetLineSpan().Path ?? string.Empty));

    private static int? Owner(string file)
    {
        if (file.StartsWith("Case", StringComparison.Ordinal) && int.TryParse(file.AsSpan(4, file.Length - 7), out int index))
        {
            return index;
        }

        if (file.StartsWith("Fuzz", StringComparison.Ordinal))
        {
            int dot = file.IndexOf('.', StringComparison.Ordinal);
            if (dot > 4 && int.TryParse(file.AsSpan(4, dot - 4), out int generatedIndex))
            {
                return generatedIndex;
            }
        }

        return null;
    }

    private static string Describe(int index, int seed, string source, string what, IEnumerable<Diagnostic> diagnostics) =>
        $"case {index} (seed {seed}): {what}:\n  " + string.Join("\n  ", diagnostics.Take(6)) + "\n" + source;

    // ---- The random declarations ----------------------------------------------------------------------------

    private static readonly string[] Doubles =
    {
        "0", "1", "0.5", "0.9", "0.999", "1e-8", "-1", "-0.0", "2", "10", "1000", "1e300", "-1e300", "1e-300", "1e16", "1e20",
        "double.NaN", "double.PositiveInfinity", "double.NegativeInfinity", "double.MaxValue", "double.Epsilon", "float.NaN",
        "0.99999999999999999", "(double)int.MaxValue", "1.5f", "3",
        "1e-50", "-1e-50", "1e39", "3.5e38", "3.4e38", "1e-45", "float.MaxValue", "(double)float.Epsilon", // float32's range edges (OPTG0024)
    };

    private static readonly string[] Broken = { "", "\"x\"", "true", "null", "1e309", "new double[0]", "Length" };

    private static readonly string[] Names = { "\"Alpha\"", "\"Beta2\"", "\"LearningRate\"", "\"Step\"", "\"class\"", "\"\"", "\"Beta 2\"", "\"ρ\"", "\"_x\"", "\"Epsilon\"", "null", "\"Length\"", "\"Gamma\"" };

    private static string Number(Random r) => r.Next(4) switch
    {
        0 => (r.NextDouble() * 4 - 2).ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        1 => (1 + r.Next(100_000)).ToString(System.Globalization.CultureInfo.InvariantCulture),
        _ => Doubles[r.Next(Doubles.Length)],
    };

    // Half the cases are hostile (every value may be invalid or malformed); the other half are plausible
    // declarations with valid values, so that many rules are generated and compiled too.
    private static bool hostile;

    private static string Value(Random r) =>
        !hostile ? Plausible[r.Next(Plausible.Length)]
        : r.Next(40) == 0 ? Broken[r.Next(Broken.Length)] : Number(r);

    private static readonly string[] Plausible = { "0", "0.001", "0.01", "0.1", "0.5", "0.9", "0.99", "1", "1e-4", "2", "10", "100" };

    private static string Bool(Random r) => hostile && r.Next(30) == 0 ? "1" : r.Next(2) == 0 ? "true" : "false";

    private static string Enum(Random r, string type, params string[] members) => (hostile ? r.Next(20) : 99) switch
    {
        0 => $"({type}){r.Next(-2, 9)}",
        1 => "MomentInput.Gradient",
        2 => "0",
        _ => type + "." + members[r.Next(members.Length)],
    };

    private static string Args(Random r, List<string> positional, List<string> named)
    {
        var all = positional.Concat(named.OrderBy(_ => r.Next())).ToList();
        string text = string.Join(", ", all);
        return (hostile ? r.Next(25) : 99) switch
        {
            0 => "(" + text + ",)",                                   // trailing comma
            1 => "(" + text + ", Lenght = 10)",                       // misspelled name
            2 => "(" + text,                                          // missing ')'
            3 when named.Count > 0 => "(" + text + ", " + named[0] + ")", // a named argument twice
            _ => all.Count == 0 && r.Next(2) == 0 ? string.Empty : "(" + text + ")",
        };
    }

    private static List<string> Some(Random r, params (string Name, Func<string> Value)[] options) =>
        options.Where(_ => r.Next(3) == 0).Select(o => $"{o.Name} = {o.Value()}").ToList();

    private static string Attribute(Random r, string name)
    {
        var named = new List<string>();
        var positional = new List<string>();
        switch (name)
        {
            case "Optimizer":
                named = Some(r, ("Name", () => hostile ? Names[r.Next(Names.Length)] : "\"My rule\""));
                break;
            case "LearningRate":
                positional.Add(r.Next(2) == 0 ? Value(r) : "0.001");
                named = Some(r, ("Decay", () => Value(r)));
                break;
            case "FirstMoment":
                named = LengthOrBeta(r);
                named.AddRange(Some(r,
                    ("Input", () => Enum(r, "MomentInput", "Gradient", "AbsoluteGradient")),
                    ("Start", () => Enum(r, "MomentStart", "Zero", "FirstSample"))));
                break;
            case "SecondMoment":
                named = LengthOrBeta(r);
                named.AddRange(Some(r,
                    ("Kind", () => Enum(r, "SecondMomentKind", "ExponentialAverage", "Sum", "Mean", "InfinityNorm")),
                    ("Start", () => Enum(r, "MomentStart", "Zero", "FirstSample")),
                    ("Centered", () => Bool(r)),
                    ("InitialValue", () => Value(r)),
                    ("Power", () => r.Next(3) == 0 ? Value(r) : r.Next(2) == 0 ? "0.5" : "1"),
                    ("Name", () => hostile ? Names[r.Next(Names.Length)] : "\"Rho\""),
                    ("Scope", () => Enum(r, "MomentScope", "Element", "Tensor", "Row", "Column", "Block")),
                    ("BlockLength", () => hostile && r.Next(3) == 0 ? Value(r) : (r.Next(3) - 1 + r.Next(40)).ToString(System.Globalization.CultureInfo.InvariantCulture))));
                break;
            case "TrustRatio":
                named = Some(r,
                    ("Form", () => Enum(r, "TrustRatioForm", "Lamb", "Lars")),
                    ("Coefficient", () => Value(r)),
                    ("MaxRatio", () => Value(r)));
                break;
            case "BiasCorrection":
                positional.Add(Enum(r, "BiasCorrectionMode", "None", "Power", "MinT"));
                break;
            case "Epsilon":
                positional.Add(r.Next(3) == 0 ? Value(r) : "1e-8");
                named = Some(r,
                    ("Placement", () => Enum(r, "EpsilonPlacement", "OutsideSqrt", "InsideSqrt", "Decoupled")),
                    ("BeforeBiasCorrection", () => Bool(r)));
                break;
            case "Momentum":
                if (r.Next(2) == 0)
                {
                    positional.Add(r.Next(3) == 0 ? Value(r) : "0.9");
                }

                named = Some(r,
                    ("Length", () => Value(r)),
                    ("Dampening", () => r.Next(2) == 0 ? "0" : Value(r)),
                    ("Nesterov", () => Bool(r)),
                    ("Style", () => Enum(r, "MomentumStyle", "PyTorch", "Classic")));
                break;
            case "WeightDecay":
                positional.Add(r.Next(3) == 0 ? Value(r) : "0.01");
                named = Some(r, ("Decoupled", () => Bool(r)));
                break;
            case "AmsGrad":
            case "Maximize":
                if (r.Next(30) == 0)
                {
                    positional.Add(Value(r));
                }

                break;
        }

        return name + Args(r, positional, named);
    }

    private static List<string> LengthOrBeta(Random r) => r.Next(12) switch
    {
        0 => new List<string>(),
        1 => new List<string> { $"Length = {Value(r)}", $"Beta = {Value(r)}" },
        < 6 => new List<string> { $"Length = {(r.Next(3) == 0 ? Value(r) : (1 + r.Next(2000)).ToString(System.Globalization.CultureInfo.InvariantCulture))}" },
        _ => new List<string> { $"Beta = {(r.Next(3) == 0 ? Value(r) : "0.9")}" },
    };

    private static readonly string[] RuleAttributes =
    {
        "LearningRate", "FirstMoment", "SecondMoment", "BiasCorrection", "Epsilon", "AmsGrad", "Momentum", "WeightDecay", "Maximize", "TrustRatio",
    };

    /// <summary>One random declaration, in its own namespace <c>Fuzz{index}</c>.</summary>
    internal static string Declare(int index, Random r)
    {
        hostile = r.Next(2) == 0;
        var attributes = new List<string>();
        if (r.Next(10) != 0)
        {
            attributes.Add(Attribute(r, "Optimizer"));
        }

        foreach (string name in RuleAttributes)
        {
            // Plausible declarations add the denominator's attributes only with a second moment to build it from.
            bool needsSecondMoment = name is "BiasCorrection" or "Epsilon" or "AmsGrad";
            if (!hostile && needsSecondMoment && !attributes.Any(a => a.StartsWith("SecondMoment", StringComparison.Ordinal)))
            {
                continue;
            }

            if (r.Next(5) < 2)
            {
                attributes.Add(Attribute(r, name));
            }
        }

        if (hostile && r.Next(15) == 0 && attributes.Count > 0)
        {
            string repeated = attributes[r.Next(attributes.Count)];
            string name = new string(repeated.TakeWhile(char.IsLetter).ToArray());
            attributes.Add(r.Next(2) == 0 ? repeated : Attribute(r, name));
        }

        attributes = attributes.OrderBy(_ => r.Next()).ToList();
        var text = new StringBuilder();
        text.Append("using OptGen;\nnamespace Fuzz").Append(index).Append(";\n\npublic interface IMarker { }\n\n");

        string kind = (hostile ? r.Next(25) : 99) switch
        {
            0 => "struct",
            1 => "interface",
            2 => "record",
            3 => "record struct",
            _ => "class",
        };
        int shape = hostile ? r.Next(40) : 40;
        string modifiers = (kind == "class" ? (hostile ? r.Next(30) : 2 + r.Next(28)) switch
        {
            0 => "static ",
            1 => "abstract ",
            2 => "sealed ",
            3 => "file ",
            4 => "internal ",
            _ => "public ",
        } : "public ") + (hostile && r.Next(12) == 0 ? string.Empty : "partial ");
        bool isStatic = modifiers.Contains("static", StringComparison.Ordinal);
        string typeName = r.Next(30) switch { 0 => "@event", 1 => "@record", 2 => "@file", _ => "C" + r.Next(3) }; // keywords generated code must escape
        string generic = hostile && r.Next(25) == 0 ? "<T>" : string.Empty;
        string primary = kind == "class" && !isStatic && r.Next(25) == 0 ? (r.Next(2) == 0 ? "(string s)" : "()") : string.Empty; // a primary constructor (OPTG0023)
        string bases = r.Next(20) switch
        {
            0 when kind == "class" && !isStatic => " : System.Exception",
            1 when !isStatic => " : IMarker",
            2 when kind == "class" && !isStatic && attributes.Any(a => a.StartsWith("Optimizer", StringComparison.Ordinal)) => " : OptGen.Optimizer",
            _ => string.Empty,
        };

        var members = new List<string>();
        if (!isStatic && kind != "interface")
        {
            if (r.Next(12) == 0)
            {
                members.Add($"public int {(r.Next(2) == 0 ? "LearningRate" : "Beta1")} {{ get; set; }}");
            }

            if (r.Next(25) == 0 && !typeName.StartsWith('@') && generic.Length == 0 && primary.Length == 0 && kind is "class" or "struct")
            {
                members.Add($"public {typeName}(int n) {{ }}");
            }

            if (r.Next(4) == 0)
            {
                members.Add("public int Helper() => 42;");
            }

            if (primary.Length > 2)
            {
                members.Add("public string Text => s;"); // reads the primary constructor's parameter (else CS9113)
            }
        }

        string declaration = string.Join(" ", attributes.Select(a => "[" + a + "]"))
            + (attributes.Count > 0 ? "\n" : string.Empty)
            + $"{modifiers}{kind} {typeName}{generic}{primary}{bases}\n{{\n    {string.Join("\n    ", members)}\n}}";

        if (shape == 0)
        {
            text.Append("public partial class Outer<TOuter>\n{\n").Append(declaration.Replace("file ", string.Empty, StringComparison.Ordinal)).Append("\n}\n");
        }
        else if (shape == 1)
        {
            text.Append("public class Plain\n{\n").Append(declaration.Replace("file ", string.Empty, StringComparison.Ordinal)).Append("\n}\n");
        }
        else if (shape < 4)
        {
            text.Append("public static partial class Outer\n{\n").Append(declaration.Replace("file ", string.Empty, StringComparison.Ordinal)).Append("\n}\n");
        }
        else
        {
            text.Append(declaration).Append('\n');
        }

        if (r.Next(30) == 0)
        {
            // The same class declared again in a second part, with or without its own attributes.
            text.Append(r.Next(2) == 0 ? "[Optimizer] " : string.Empty).Append("partial class Second { }\n[FirstMoment(Beta = 0.5)] partial class Second { }\n");
        }

        if (r.Next(20) == 0)
        {
            // Two optimizers whose names differ only in case: each needs its own file (no CS8785).
            text.Append("[Optimizer] [FirstMoment(Beta = 0.5)] public partial class Twin;\n[Optimizer] [Momentum(0.9)] public partial class TWIN;\n");
        }

        return text.ToString();
    }
}
