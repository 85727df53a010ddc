using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Xunit;
using Xunit.Abstractions;

namespace OptGen.Generator.Tests;

/// <summary>
/// Mutations of real expression rules (fixed seed, 3,000 cases): every expression-rule declaration in
/// docs/expressions.md and in this project's tests (classes with [Update] or [StepScalar] found in C# blocks and in
/// string literals), and every bare statement written in a test string, mutated one to three times (in one
/// declaration in five the declared names may be mutated too) — a character or token deleted, doubled or swapped,
/// an operator, parenthesis, unicode letter, digits, huge or tiny number, <c>..</c>, control character or language
/// word inserted, the string emptied or made tens of thousands of characters long — and compiled through the
/// generator in-process, each in its own file and namespace. The generator never throws; a case with any compiler
/// warning or error has an OPTG diagnostic; a case with an OPTG error generates no code, one without generates its
/// class; and no compiler diagnostic is ever located inside generated code. A quarter of the compilations reference
/// ILGPU, so the GPU kernels are generated and compiled too.
/// </summary>
public sealed class ExpressionMutationFuzzTests(ITestOutputHelper output)
{
    /// <summary>The fixed seed; <c>OPTGEN_MUTATION_FUZZ_SEED</c> overrides it to explore (a failure prints the seed and the case).</summary>
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("OPTGEN_MUTATION_FUZZ_SEED"), out int seed) ? seed : 2026_1205;

    private const int Cases = 3_000;
    private const int CasesPerCompilation = 250;

    /// <summary>The declaration a mutated bare statement is placed in: every name the corpus' statements commonly use.</summary>
    private const string Template = """
        [Optimizer]
        [Hyperparameter("Lr", 1e-3)] [Hyperparameter("LearningRate", 1e-3)] [Hyperparameter("Beta1", 0.9)] [Hyperparameter("Beta2", 0.999)]
        [Hyperparameter("Eps", 1e-8)] [Hyperparameter("Wd", 0.01)] [Hyperparameter("X", 0.5)]
        [State("m")] [State("v")] [StepScalar("bc1", "1 - pow(Beta1, t)")] [StepScalar("k", "1 / t")]
        [Update(STATEMENT)]
        [Update("p = p - Lr * g")]
        public partial class Mutated;
        """;

    [Fact]
    public void MutatedRulesNeverThrowAndEitherDiagnoseOrCompileCleanly()
    {
        (List<string> declarations, List<string> statements) = Corpus();
        output.WriteLine($"corpus: {declarations.Count} declarations, {statements.Count} bare statements");
        Assert.True(declarations.Count >= 40, $"only {declarations.Count} declarations found");
        Assert.True(statements.Count >= 40, $"only {statements.Count} bare statements found");

        // Most corpus declarations (and statements) are the invalid ones of diagnostic tests; three cases in four start
        // from a valid one, so that many mutated rules stay valid and their generated code is compiled.
        List<string> validDeclarations = Valid(declarations.Select(d => d).ToList(), declarations);
        List<string> validStatements = Valid(statements.Select(TemplateWith).ToList(), statements);
        output.WriteLine($"valid unmutated: {validDeclarations.Count} declarations, {validStatements.Count} statements");
        Assert.True(validDeclarations.Count >= 20 && validStatements.Count >= 20, "too few valid declarations or statements in the corpus");

        var random = new Random(Seed);
        var failures = new List<string>();
        int diagnosed = 0, clean = 0;
        for (int first = 0; first < Cases && failures.Count < 5; first += CasesPerCompilation)
        {
            var sources = new List<string>();
            for (int i = first; i < first + CasesPerCompilation; i++)
            {
                bool valid = random.Next(4) > 0;
                sources.Add(Case(random, i, valid ? validDeclarations : declarations, valid ? validStatements : statements));
            }

            (int d, int c) = RunBatch(first, sources, ilgpu: first / CasesPerCompilation % 4 == 3, failures);
            diagnosed += d;
            clean += c;
        }

        output.WriteLine($"seed {Seed}: {Cases} cases, {diagnosed} with an OPTG error, {clean} generated");
        Assert.True(failures.Count == 0, $"Mutation fuzz seed {Seed}: {failures.Count} failing case(s):\n\n" + string.Join("\n\n", failures));
        Assert.Equal(Cases, diagnosed + clean);
        Assert.True(diagnosed > Cases / 4 && clean > Cases / 20, $"{diagnosed} diagnosed, {clean} generated: the mutations should give both");
    }

    // ---- What the mutation fuzz found, each fixed ----

    [Theory]
    // gsq in the operand of a rule's first reduction was let through (the reduction is declared after its operand
    // is bound): the kernel read an unassigned gsq and CreateKernel passed an inputOffset the passes do not take.
    [InlineData("[Update(\"p = p - norm([|gsq|]) * g\")]", "OPTG0107")]
    [InlineData("[Update(\"p = p - row_mean(g * [|gsq|]) * g\")]", "OPTG0107")]
    public void FoundByTheMutationFuzz(string attributes, string id) =>
        DiagnosticLocationTests.AssertMarked($"[Optimizer] {attributes} public partial class C;", id);

    /// <summary>One case: a corpus declaration with one of its expression strings mutated, or a mutated bare statement in <see cref="Template"/>.</summary>
    private static string Case(Random random, int index, List<string> declarations, List<string> statements)
    {
        string declaration;
        if (random.Next(3) == 0)
        {
            declaration = TemplateWith(Mutate(random, statements[random.Next(statements.Count)]));
        }
        else
        {
            declaration = declarations[random.Next(declarations.Count)];
            CompilationUnitSyntax root = CSharpSyntaxTree.ParseText(declaration, GeneratorHarness.ParseOptions()).GetCompilationUnitRoot();
            // Mostly the expressions; one case in five the declared names ([State], [Hyperparameter], [StepScalar], Name = "…") too.
            SyntaxToken[] texts = ExpressionStrings(root).Concat(random.Next(5) == 0 ? NameStrings(root) : Enumerable.Empty<SyntaxToken>()).ToArray();
            int mutations = random.Next(4) == 0 ? 2 : 1;
            var chosen = Enumerable.Range(0, mutations).Select(_ => texts[random.Next(texts.Length)]).Distinct().ToArray();
            root = root.ReplaceTokens(chosen, (original, _) => SyntaxFactory.Literal(Mutate(random, original.ValueText)));
            declaration = root.ToFullString();
        }

        return Source(index, declaration);
    }

    private static string Source(int index, string declaration) => $"using OptGen;\nnamespace Fuzz{index};\n\n{declaration}\n";

    private static string TemplateWith(string statement) => Template.Replace("STATEMENT", Literal(statement));

    /// <summary>The items whose declaration (<paramref name="declarations"/>, in the same order) gets no OPTG error.</summary>
    private static List<string> Valid(List<string> declarations, List<string> items)
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(string.Empty)
            .AddSyntaxTrees(declarations.Select((d, k) => CSharpSyntaxTree.ParseText(Source(k, d), GeneratorHarness.ParseOptions(), path: $"Case{k}.cs")));
        GeneratorRunResult run = GeneratorHarness.Driver().RunGenerators(compilation).GetRunResult().Results.Single();
        var invalid = run.Diagnostics.Where(ExpressionFuzzTests.IsError).Select(d => Owner(d.Location.GetLineSpan().Path)).ToHashSet();
        return items.Where((_, k) => !invalid.Contains(k)).ToList();
    }

    private static (int Diagnosed, int Clean) RunBatch(int first, List<string> sources, bool ilgpu, List<string> failures)
    {
        CSharpParseOptions options = GeneratorHarness.ParseOptions();
        CSharpCompilation compilation = GeneratorHarness.Compilation(string.Empty)
            .AddSyntaxTrees(sources.Select((s, k) => CSharpSyntaxTree.ParseText(s, options, path: $"Case{first + k}.cs")));
        if (ilgpu)
        {
            compilation = GeneratorHarness.WithIlgpu(compilation);
        }

        GeneratorDriver driver = GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation result, out ImmutableArray<Diagnostic> driverDiagnostics);
        GeneratorDriverRunResult run = driver.GetRunResult();
        string batch = $"cases {first}..{first + sources.Count - 1}{(ilgpu ? " (with ILGPU)" : string.Empty)}";
        foreach (GeneratorRunResult r in run.Results.Where(r => r.Exception is not null))
        {
            failures.Add($"{batch}: the generator threw {r.Exception}");
            return (0, 0);
        }

        foreach (Diagnostic crash in driverDiagnostics.Concat(run.Diagnostics).Where(d => d.Id is "CS8784" or "CS8785"))
        {
            failures.Add($"{batch}: {crash}");
            return (0, 0);
        }

        var optgen = new Dictionary<int, List<Diagnostic>>();
        foreach (Diagnostic diagnostic in run.Diagnostics)
        {
            if (Owner(diagnostic.Location.GetLineSpan().Path) is not int owner)
            {
                failures.Add($"{batch}: an OPTG diagnostic outside every case: {diagnostic}");
                continue;
            }

            if (!optgen.TryGetValue(owner, out List<Diagnostic>? list))
            {
                optgen[owner] = list = new List<Diagnostic>();
            }

            list.Add(diagnostic);
        }

        bool HasError(int index) => optgen.TryGetValue(index, out List<Diagnostic>? list) && list.Any(ExpressionFuzzTests.IsError);

        // Compile what the verdict needs: every generated file (each kernel text once per test run) and the
        // consumer file of every case without an OPTG error.
        var compiler = new Dictionary<int, List<Diagnostic>>();
        foreach (SyntaxTree tree in result.SyntaxTrees)
        {
            string file = Path.GetFileName(tree.FilePath);
            bool generated = file.EndsWith(".g.cs", StringComparison.Ordinal);
            int? owner = Owner(file);
            bool needed = owner is null ? generated && CompiledShared.Add(tree.GetText().ToString()) : generated || !HasError(owner.Value);
            if (!needed)
            {
                continue;
            }

            foreach (Diagnostic diagnostic in result.GetSemanticModel(tree).GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning))
            {
                string at = diagnostic.Location.GetLineSpan().Path ?? string.Empty;
                if (at.EndsWith(".g.cs", StringComparison.Ordinal) || Owner(at) is not int o)
                {
                    failures.Add($"{batch}: a compiler diagnostic inside generated code or outside every case: {diagnostic}\n  {Line(diagnostic)}"
                        + (owner is int k ? "\n" + sources[k - first] : string.Empty));
                    continue;
                }

                if (!compiler.TryGetValue(o, out List<Diagnostic>? list))
                {
                    compiler[o] = list = new List<Diagnostic>();
                }

                list.Add(diagnostic);
            }
        }

        string[] hints = run.Results.SelectMany(r => r.GeneratedSources).Select(s => s.HintName).ToArray();
        int diagnosed = 0, clean = 0;
        for (int k = 0; k < sources.Count; k++)
        {
            int index = first + k;
            bool emitted = hints.Any(h => h.StartsWith($"Fuzz{index}.", StringComparison.Ordinal));
            if (HasError(index))
            {
                diagnosed++;
                if (emitted)
                {
                    failures.Add(Describe(index, "an OPTG error, yet code was generated for it", optgen[index], sources[k]));
                }
            }
            else
            {
                clean++;
                if (compiler.TryGetValue(index, out List<Diagnostic>? errors))
                {
                    failures.Add(Describe(index, optgen.ContainsKey(index) ? "compiler diagnostics beside OPTG warnings only" : "compiler diagnostics without any OPTG diagnostic", errors, sources[k]));
                }
                else if (!emitted)
                {
                    failures.Add(Describe(index, "no OPTG error and no generated code", Array.Empty<Diagnostic>(), sources[k]));
                }
            }
        }

        return (diagnosed, clean);
    }

    /// <summary>Generated kernel texts compiled so far (kernels are shared by structure across cases and batches).</summary>
    private static readonly HashSet<string> CompiledShared = new(StringComparer.Ordinal);

    /// <summary>The case a file belongs to: its source <c>Case{i}.cs</c>, or a generated file <c>Fuzz{i}.….g.cs</c>.</summary>
    private static int? Owner(string? path)
    {
        string file = Path.GetFileName(path ?? string.Empty);
        Match match = Regex.Match(file, @"^(?:Case(\d+)\.cs|Fuzz(\d+)\..*)$");
        return match.Success ? int.Parse(match.Groups[1].Success ? match.Groups[1].Value : match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
    }

    private static string Describe(int index, string what, IEnumerable<Diagnostic> diagnostics, string source) =>
        $"case {index} (seed {Seed}): {what}:\n  " + string.Join("\n  ", diagnostics.Take(6)) + "\n" + (source.Length > 3000 ? source.Substring(0, 3000) + " …" : source);

    private static string Line(Diagnostic d) =>
        d.Location.SourceTree is { } tree ? tree.GetText().Lines[d.Location.GetLineSpan().StartLinePosition.Line].ToString().Trim() : string.Empty;

    private static string Literal(string text) => SymbolDisplay.FormatLiteral(text, quote: true);

    // ---- The corpus ------------------------------------------------------------------------------------------

    private static (List<string> Declarations, List<string> Statements) Corpus([CallerFilePath] string caller = "")
    {
        string here = Path.GetDirectoryName(caller)!;
        var declarations = new List<string>();
        var statements = new List<string>();

        // docs/expressions.md: every C# block, fragment or not.
        string docs = File.ReadAllText(Path.Combine(here, "..", "..", "docs", "expressions.md"));
        foreach (Match block in Regex.Matches(docs, "```csharp[^\n]*\n(.*?)```", RegexOptions.Singleline))
        {
            AddDeclarations(block.Groups[1].Value, declarations);
        }

        // This project's tests: every string literal that holds a declaration, or a bare statement.
        foreach (string file in Directory.EnumerateFiles(here, "*.cs").Where(f => !f.EndsWith(nameof(ExpressionMutationFuzzTests) + ".cs", StringComparison.Ordinal)).OrderBy(f => f, StringComparer.Ordinal))
        {
            SyntaxNode root = CSharpSyntaxTree.ParseText(File.ReadAllText(file)).GetRoot();
            foreach (SyntaxToken token in root.DescendantTokens().Where(t => t.IsKind(SyntaxKind.StringLiteralToken) || t.IsKind(SyntaxKind.SingleLineRawStringLiteralToken) || t.IsKind(SyntaxKind.MultiLineRawStringLiteralToken)))
            {
                string value = token.ValueText.Replace("[|", string.Empty).Replace("|]", string.Empty);
                if (value.Contains("[Update(", StringComparison.Ordinal) || value.Contains("[StepScalar(", StringComparison.Ordinal))
                {
                    AddDeclarations(value, declarations);
                }
                else if (Regex.IsMatch(value, @"^\s*(let\s+)?[A-Za-z]\w*\s*=[^=]") && value.Length < 2000)
                {
                    statements.Add(value);
                }
            }
        }

        // The statements of every declaration are bare statements too.
        foreach (string declaration in declarations)
        {
            CompilationUnitSyntax root = CSharpSyntaxTree.ParseText(declaration, GeneratorHarness.ParseOptions()).GetCompilationUnitRoot();
            statements.AddRange(ExpressionStrings(root).Select(t => t.ValueText));
        }

        return (declarations.Distinct(StringComparer.Ordinal).ToList(), statements.Distinct(StringComparer.Ordinal).ToList());
    }

    /// <summary>Each class with [Optimizer] and an [Update] or [StepScalar] string in <paramref name="source"/>, as written (attributes, and the types that contain it, included).</summary>
    private static void AddDeclarations(string source, List<string> declarations)
    {
        CompilationUnitSyntax root = CSharpSyntaxTree.ParseText(source, GeneratorHarness.ParseOptions()).GetCompilationUnitRoot();
        foreach (ClassDeclarationSyntax type in root.DescendantNodes().OfType<ClassDeclarationSyntax>())
        {
            var attributes = type.AttributeLists.SelectMany(l => l.Attributes).Select(a => a.Name.ToString()).ToArray();
            if (attributes.Contains("Optimizer") && ExpressionStrings(type).Any() && !type.ContainsDiagnostics)
            {
                // A nested optimizer is kept in the types that contain it.
                SyntaxNode top = type;
                while (top.Parent is TypeDeclarationSyntax outer)
                {
                    top = outer;
                }

                // One optimizer per case: the verdict (an OPTG error and no generated code, or code and no error) is
                // per case, so a declaration whose containing types are optimizers too is left out of the corpus.
                if (top.DescendantNodesAndSelf().OfType<ClassDeclarationSyntax>().Count(IsOptimizer) == 1)
                {
                    declarations.Add(top.WithoutLeadingTrivia().ToFullString().Trim());
                }
            }
        }
    }

    private static bool IsOptimizer(ClassDeclarationSyntax type) =>
        type.AttributeLists.SelectMany(l => l.Attributes).Any(a => a.Name.ToString() == "Optimizer");

    /// <summary>The string literals of [Update] (its statement) and [StepScalar] (its expression) attributes.</summary>
    private static IEnumerable<SyntaxToken> ExpressionStrings(SyntaxNode root) =>
        root.DescendantNodes().OfType<AttributeSyntax>().Where(IsExpressionString)
            .Select(a => a.ArgumentList!.Arguments[a.Name.ToString() == "Update" ? 0 : 1].Expression)
            .OfType<LiteralExpressionSyntax>()
            .Select(l => l.Token)
            .Where(t => t.IsKind(SyntaxKind.StringLiteralToken) || t.IsKind(SyntaxKind.SingleLineRawStringLiteralToken));

    /// <summary>The string literals that declare names: [State], [Hyperparameter] and [StepScalar] names, and Name = "…".</summary>
    private static IEnumerable<SyntaxToken> NameStrings(SyntaxNode root) =>
        root.DescendantNodes().OfType<AttributeSyntax>()
            .Where(a => a.Name.ToString() is "State" or "Hyperparameter" or "StepScalar" && a.ArgumentList is { Arguments.Count: > 0 })
            .SelectMany(a => a.ArgumentList!.Arguments.Where((x, i) => (i == 0 && x.NameColon is null && x.NameEquals is null) || x.NameEquals?.Name.Identifier.ValueText == "Name"))
            .Select(x => x.Expression)
            .OfType<LiteralExpressionSyntax>()
            .Select(l => l.Token)
            .Where(t => t.IsKind(SyntaxKind.StringLiteralToken));

    private static bool IsExpressionString(AttributeSyntax a) =>
        a.ArgumentList is { } list && list.Arguments.All(x => x.NameColon is null) && (a.Name.ToString() == "Update" ? list.Arguments.Count >= 1 : a.Name.ToString() == "StepScalar" && list.Arguments.Count >= 2);

    // ---- The mutations ---------------------------------------------------------------------------------------

    private static readonly string[] Operators = { "+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=", "?", ":", ",", "=", "!", "&&", "||", "%", "^", "**" };
    private static readonly string[] Unicode = { "é", "β", "ß", "中", "\u0301", "\u200B", "\u202E", "\u00A0", "𝛽", "Ａ", "٣", "Ⅻ", "\uFEFF", "\uD800", "ſ", "İ" };
    private static readonly string[] Numbers =
    {
        "1e39", "3.5e38", "3.4028235e38", "1e308", "1e309", "1e-50", "1e-400", "1e-45", "1.4e-45", "99999999999999999999999999999999",
        "0.00000000000000000000000000000000000000000000000001", new string('9', 400), "1" + new string('0', 40), "0", "00", "0.0", "1e0", "2147483648", "4294967296",
    };
    private static readonly string[] Special = { "\0", "\n", "\r\n", "\t", "\"", "\\", ";", "#", "$", "@", "'", "`", "_", "[", "]", "{", "}", "..", "...", ".", "e", "E", "1e", "1e+", "0x1F", "1_000", ".5", "5." };
    private static readonly string[] Words =
    {
        "randn()", "rand()", "norm(g)", "sum(g)", "maxabs(p)", "row_mean(g * g)", "col_norm(g)", "block_mean(g, 4)", "group_mean(g)", "global_norm(g)",
        "t", "B", "gsq", "let", "p", "g", "m", "v", "Lr", "pow", "lerp", "sqrt", "rsqrt", "select", "clamp", "batchDecay(0.9)", "exp(100)", "log(0)",
        "pow(2, 1000)", "1 / 0", "sqrt(0 - 1)", "Step", "class", "i", "index", "state", "K_0", "norm_0",
    };

    private static readonly Regex Token = new(@"[A-Za-z_][A-Za-z0-9_]*|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+|<=|>=|==|!=|\S", RegexOptions.Compiled);

    /// <summary>One to three random mutations of <paramref name="text"/>.</summary>
    internal static string Mutate(Random random, string text)
    {
        int count = random.Next(4) == 0 ? random.Next(2, 4) : 1;
        for (int k = 0; k < count; k++)
        {
            text = MutateOnce(random, text);
        }

        return text;
    }

    private static string MutateOnce(Random r, string s)
    {
        int at = r.Next(s.Length + 1);
        Match[] tokens = Token.Matches(s).Cast<Match>().ToArray();
        Match? token = tokens.Length == 0 ? null : tokens[r.Next(tokens.Length)];
        string Pick(string[] options) => options[r.Next(options.Length)];
        switch (r.Next(20))
        {
            // Mutations that often keep the rule valid, so the generated code of mutated rules is compiled too.
            case 16:
                return s.Insert(at, Pick(new[] { " ", "  ", "\t", "\n", " ;" }));
            case 17 when token is not null && char.IsDigit(token.Value[0]):
                return s.Remove(token.Index, token.Length).Insert(token.Index, Pick(new[] { "0.5", "2", "1e-3", "0.999", "3.4e38", "1e-45", "1e-38", "0", "1" }));
            case 18 when token is not null && char.IsLetter(token.Value[0]):
                return r.Next(2) == 0
                    ? s.Insert(token.Index, "-")
                    : s.Insert(token.Index + token.Length, ")").Insert(token.Index, Pick(new[] { "(", "abs(", "sqrt(1 + ", "max(0, " }));
            case 19 when token is not null && token.Value is "+" or "-" or "*" or "/":
                return s.Remove(token.Index, token.Length).Insert(token.Index, Pick(new[] { "+", "-", "*", "/" }));
            case 0 when s.Length > 0:
                return s.Remove(Math.Min(at, s.Length - 1), 1);
            case 1 when s.Length > 0:
                at = Math.Min(at, s.Length - 1);
                return s.Insert(at, s[at].ToString());
            case 2 when s.Length > 1:
                at = Math.Min(at, s.Length - 2);
                return s.Substring(0, at) + s[at + 1] + s[at] + s.Substring(at + 2);
            case 3 when token is not null:
                return s.Remove(token.Index, token.Length);
            case 4 when token is not null:
                return s.Insert(token.Index, token.Value + (r.Next(2) == 0 ? " " : string.Empty));
            case 5 when tokens.Length > 1:
                int i = r.Next(tokens.Length - 1);
                Match a = tokens[i], b = tokens[i + 1];
                return s.Substring(0, a.Index) + b.Value + s.Substring(a.Index + a.Length, b.Index - a.Index - a.Length) + a.Value + s.Substring(b.Index + b.Length);
            case 6:
                return s.Insert(at, Pick(Operators));
            case 7:
                if (token is not null && r.Next(2) == 0)
                {
                    return s.Insert(token.Index + token.Length, ")").Insert(token.Index, "(");
                }

                return s.Insert(at, Pick(new[] { "(", ")", "()", "((", "))", ")(" }));
            case 8:
                return s.Insert(at, Pick(Unicode));
            case 9:
                return s.Insert(at, string.Concat(Enumerable.Range(0, r.Next(1, 30)).Select(_ => (char)('0' + r.Next(10)))));
            case 10:
                return token is not null && r.Next(2) == 0 ? s.Remove(token.Index, token.Length).Insert(token.Index, Pick(Numbers)) : s.Insert(at, Pick(Numbers));
            case 11:
                return r.Next(3) == 0 ? string.Empty : r.Next(2) == 0 ? " " : s.Insert(at, "..");
            case 12:
                return r.Next(5) switch
                {
                    0 => string.Concat(Enumerable.Repeat(s, 5_000 / Math.Max(1, s.Length) + 2)),
                    1 => s + string.Concat(Enumerable.Repeat(" + g", r.Next(150, 5_000))),
                    2 => new string('(', r.Next(50, 20_000)) + s + new string(')', r.Next(50, 20_000)),
                    3 => s.Insert(at, new string('-', r.Next(50, 20_000))),
                    _ => s.Insert(at, new string('x', r.Next(100, 50_000))),
                };
            case 13:
                return s.Insert(at, Pick(Special));
            case 14 when token is not null:
                return s.Remove(token.Index, token.Length).Insert(token.Index, Pick(Words));
            case 15:
                return s.Insert(at, " " + Pick(Words) + " ");
            default:
                return s.Insert(at, Pick(Operators));
        }
    }
}
