using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Random and malformed expression rules (fixed seed, 1,000 cases, 40 classes per compilation; half of them well formed, half with one malformed string, a type error or a building-block attribute): the generator
/// never throws, and every case either gets at least one OPTG error or its generated code compiles with no
/// warning or error (the harness reports every warning as an error).
/// </summary>
public sealed class ExpressionFuzzTests
{
    private const int Batches = 25;
    private const int CasesPerBatch = 40;

    private static readonly string[] Hyperparameters = { "Lr", "Beta", "Eps" };
    private static readonly string[] States = { "m", "v" };
    private static readonly string[] StepScalars = { "bc", "k" };
    private static readonly string[] Locals = { "a", "b" };
    // The reductions (sum, mean, norm, maxabs, and row and column ones) too: in step scalars, nested, over uniform values, beside randn().
    private static readonly string[] Unary = OptGen.Generator.Ir.Functions.All.Where(f => f.Arity == 1).Select(f => f.Name).Append("-")
        .Concat(new[] { "sum", "mean", "norm", "maxabs", "row_mean", "col_norm", "row_maxabs", "col_sum", "global_norm", "group_mean" }).ToArray();
    private static readonly string[] Binary = { "+", "-", "*", "/", "min", "max", "pow" };
    private static readonly string[] Comparisons = { "<", "<=", ">", ">=", "==", "!=" };
    private static readonly string[] Noise = { "#", "_", ".", "e", "(", ")", ",", "?", ":", "=", "let ", "\n", "\"", "é", "\0", "1e", "..", "foo", "g", "p", "t", "1e999", "\\" };

    [Fact]
    public void RandomAndMalformedRulesNeverThrowAndEitherDiagnoseOrCompile()
    {
        var random = new Random(20261123);
        int diagnosed = 0, compiled = 0;
        for (int batch = 0; batch < Batches; batch++)
        {
            var source = new StringBuilder("using OptGen;\nnamespace Fuzz;\n");
            var rules = new string[CasesPerBatch];
            for (int c = 0; c < CasesPerBatch; c++)
            {
                rules[c] = Rule(random, $"Case{c}");
                source.Append(rules[c]);
            }

            GeneratorHarness.Run run = GeneratorHarness.Generate(source.ToString());
            Assert.Empty(run.Exceptions);
            for (int c = 0; c < CasesPerBatch; c++)
            {
                bool hasDiagnostic = run.OptGenDiagnostics.Any(d => IsError(d) && ClassAt(source.ToString(), d) == $"Case{c}");
                if (hasDiagnostic)
                {
                    diagnosed++;
                    Assert.DoesNotContain($"Fuzz.Case{c}.g.cs", run.Files.Keys);
                }
                else
                {
                    compiled++;
                    Assert.True(run.Files.ContainsKey($"Fuzz.Case{c}.g.cs"), $"no diagnostic and no code for:\n{rules[c]}");
                }
            }

            // Every compiler diagnostic (all warnings are errors) must be in the consumer's own text, never in generated code.
            Diagnostic[] generatedErrors = run.Errors.Where(d => d.Location.GetLineSpan().Path.EndsWith(".g.cs", StringComparison.Ordinal)).ToArray();
            Assert.True(generatedErrors.Length == 0, string.Join("\n", generatedErrors.Select(d => d + "\n" + Line(d))) + "\nrules:\n" + source);
            Assert.DoesNotContain(run.Errors, d => d.Location.GetLineSpan().Path == "Consumer.cs");
        }

        // Both outcomes are well represented, so the test exercises both the diagnostics and the emitter.
        Assert.True(diagnosed >= 200, $"only {diagnosed} diagnosed cases");
        Assert.True(compiled >= 200, $"only {compiled} compiled cases");
    }

    /// <summary>
    /// Hostile shapes (fixed seed, 200 cases in 5 compilations): huge flat sums and operator chains, deep parentheses,
    /// unary minus and conditional chains, nested lerps, divisors that are or fold to 0, numbers at and past float32's
    /// range, hyperparameters and states named like their class, primary constructors, and pairs of classes whose
    /// names differ only in case. The generator never throws, no file name is used twice ignoring case (CS8785), and
    /// every case is diagnosed or compiles with no error in generated code.
    /// </summary>
    [Fact]
    public void HostileShapesNeverThrowAndEitherDiagnoseOrCompile()
    {
        var random = new Random(20261204);
        int diagnosed = 0, compiled = 0;
        for (int batch = 0; batch < 5; batch++)
        {
            var source = new StringBuilder("using OptGen;\nnamespace Fuzz;\n");
            var rules = new string[CasesPerBatch];
            for (int c = 0; c < CasesPerBatch; c++)
            {
                rules[c] = HostileRule(random, $"Case{c}");
                source.Append(rules[c]);
            }

            GeneratorHarness.Run run = GeneratorHarness.Generate(source.ToString());
            Assert.Empty(run.Exceptions);
            Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id is "CS8785" or "CS8784");
            Assert.Equal(run.Files.Count, run.Files.Keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
            string text = source.ToString();
            var owners = run.OptGenDiagnostics.Where(IsError).Select(d => ClassAt(text, d)).ToHashSet(StringComparer.Ordinal);
            for (int c = 0; c < CasesPerBatch; c++)
            {
                if (owners.Contains($"Case{c}"))
                {
                    diagnosed++;
                    Assert.DoesNotContain($"Fuzz.Case{c}.g.cs", run.Files.Keys);
                }
                else
                {
                    compiled++;
                    Assert.True(run.Files.Keys.Any(k => k == $"Fuzz.Case{c}.g.cs" || k.StartsWith($"Fuzz.Case{c}_", StringComparison.Ordinal)), $"no diagnostic and no code for:\n{rules[c]}");
                }
            }

            Diagnostic[] generatedErrors = run.Errors.Where(d => d.Location.GetLineSpan().Path.EndsWith(".g.cs", StringComparison.Ordinal)).ToArray();
            Assert.True(generatedErrors.Length == 0, string.Join("\n", generatedErrors.Select(d => d + "\n" + Line(d))));
            Assert.DoesNotContain(run.Errors, d => d.Location.GetLineSpan().Path == "Consumer.cs");
        }

        Assert.True(diagnosed >= 50, $"only {diagnosed} diagnosed cases");
        Assert.True(compiled >= 50, $"only {compiled} compiled cases");
    }

    private static string HostileRule(Random random, string name)
    {
        string Repeat(string part, int count) => string.Concat(Enumerable.Repeat(part, count));
        string hyper = "[Hyperparameter(\"Lr\", 0.1)]";
        // Mostly around the limits (64 levels, chains of 200), sometimes far past them.
        int terms = random.Next(3) switch { 0 => random.Next(2, 200), 1 => random.Next(150, 1_000), _ => 10_000 };
        int depth = random.Next(3) switch { 0 => random.Next(1, 64), 1 => random.Next(60, 1_000), _ => 100_000 };
        string[] tiny = { "1e-50", "1e-46", "1e-45", "1e-40", "1e-38", "0.5" };
        string[] huge = { "1e300", "1e39", "3.5e38", "3.4e38", "1e38", "2" };
        string update = random.Next(12) switch
        {
            0 => "p = p" + Repeat(random.Next(2) == 0 ? " - Lr * g" : " + g", terms),
            1 => "p = p - Lr * " + new string('(', depth) + "g" + new string(')', depth),
            2 => "p = " + Repeat("g > 0 ? p : ", Math.Min(depth, 20_000)) + "p",
            3 => "p = p - Lr * " + new string('-', depth) + "g",
            4 => "p = p - Lr * " + Enumerable.Range(0, random.Next(1, 16)).Aggregate("g", (e, _) => $"lerp({e}, g, 0.5)"),
            5 => "p = p - g / " + (random.Next(3) switch { 0 => "0", 1 => "(1 - 1)", _ => "(2 - 1)" }),
            6 => "p = p - Lr * g * rsqrt(" + (random.Next(2) == 0 ? "0 * 3" : "4") + ")",
            7 => $"p = p - g * {huge[random.Next(huge.Length)]}",
            8 => $"p = p - g * {tiny[random.Next(tiny.Length)]}",
            _ => "p = p - Lr * g",
        };

        var text = new StringBuilder("[Optimizer]\n");
        switch (random.Next(8))
        {
            case 0:
                // A hyperparameter or state named like the class (CS0542 if it were generated).
                text.Append(random.Next(2) == 0
                    ? $"[Hyperparameter(\"{name}\", 0.1)] [Update(\"p = p - {name} * g\")]\n"
                    : $"[State(\"m\", Name = \"{name}\")] [Update(\"m = 0.9 * m + g\")] [Update(\"p = p - 0.1 * m\")]\n");
                return text.Append($"public partial class {name};\n\n").ToString();
            case 1:
                text.Append($"{hyper}\n[Update(\"p = p - Lr * g\")]\n");
                return text.Append($"public partial class {name}{(random.Next(2) == 0 ? "() { }" : "(int n) { public int N => n; }")}\n\n").ToString();
            case 2:
                // A twin whose name differs only in case, with a different rule.
                text.Append($"{hyper}\n[Update(\"p = p - Lr * g\")]\npublic partial class {name};\n");
                return text.Append($"[Optimizer] [Update(\"p = p + 0.5 * g\")] public partial class {name.ToUpperInvariant()};\n\n").ToString();
            case 3:
                text.Append($"[Hyperparameter(\"Lr\", {(random.Next(2) == 0 ? huge : tiny)[random.Next(6)]}{(random.Next(2) == 0 ? ", Range = HyperparameterRange.Positive" : string.Empty)})]\n");
                break;
            default:
                text.Append(hyper).Append('\n');
                break;
        }

        text.Append($"[Update({Literal(update)})]\n");
        return text.Append($"public partial class {name};\n\n").ToString();
    }

    /// <summary>Whether an OPTG diagnostic is an error, which stops its class's code; a warning (OPTG0138, an unused state) does not, so that code must compile.</summary>
    internal static bool IsError(Diagnostic d) => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error;

    internal static string Line(Diagnostic d) =>
        d.Location.SourceTree!.GetText().Lines[d.Location.GetLineSpan().StartLinePosition.Line].ToString();

    /// <summary>The Case class whose declaration contains the diagnostic (attributes precede their class).</summary>
    internal static string ClassAt(string source, Diagnostic d)
    {
        if (d.Location.GetLineSpan().Path != "Consumer.cs")
        {
            return string.Empty;
        }

        // From just before the span, so a diagnostic on the class name itself finds its own declaration.
        // The backoff also covers a primary constructor's parameter list right after the name (Case39(int n)).
        int from = Math.Max(0, d.Location.SourceSpan.Start - "public partial class ".Length - 10);
        int at = source.IndexOf("public partial class Case", from, StringComparison.Ordinal);
        return at < 0 ? string.Empty : source.Substring(at + "public partial class ".Length).Split(';', ' ', '\n', '{', '(')[0];
    }

    private static string Rule(Random random, string name)
    {
        bool clean = random.Next(2) == 0;
        int broken = clean ? -1 : random.Next(8);
        int strings = 0;
        string Maybe(string value) => strings++ == broken || (!clean && random.Next(6) == 0) ? Mutate(random, value) : value;
        var text = new StringBuilder("[Optimizer]\n");
        foreach (string h in Hyperparameters.Where(_ => random.Next(3) > 0))
        {
            text.Append($"[Hyperparameter(\"{h}\", {random.Next(1, 9) / 10.0:0.0#})]\n");
        }

        var hyper = Hyperparameters.Where(h => text.ToString().Contains($"\"{h}\"")).ToArray();
        var states = States.Where(_ => random.Next(2) == 0).ToArray();
        foreach (string s in states)
        {
            text.Append($"[State(\"{s}\")]\n");
        }

        var steps = new List<string>();
        foreach (string s in StepScalars.Where(_ => random.Next(2) == 0))
        {
            string expression = Expression(random, 2, hyper.Append("t").Concat(steps).ToArray(), host: true, clean);
            text.Append($"[StepScalar(\"{s}\", {Literal(Maybe(expression))})]\n");
            steps.Add(s);
        }

        var locals = new List<string>();
        int statements = random.Next(1, 5);
        for (int i = 0; i < statements; i++)
        {
            string[] names = new[] { "p", "g", "t" }.Concat(hyper).Concat(states).Concat(steps).Concat(locals).ToArray();
            string value = Expression(random, 3, names, host: false, clean);
            string statement;
            int kind = random.Next(4);
            if (kind == 0 && locals.Count < Locals.Length)
            {
                string local = Locals[locals.Count];
                statement = $"let {local} = {value}";
                locals.Add(local);
            }
            else if (kind == 1 && states.Length > 0)
            {
                statement = $"{states[random.Next(states.Length)]} = {value}";
            }
            else
            {
                statement = $"p = {value}";
            }

            if (clean && i == statements - 1)
            {
                statement = $"p = {value}";
            }

            text.Append($"[Update({Literal(Maybe(statement))})]\n");
        }

        if (!clean && random.Next(10) == 0)
        {
            text.Append("[FirstMoment(Beta = 0.9)]\n");
        }

        return text.Append($"public partial class {name};\n\n").ToString();
    }

    /// <summary>A random well-formed expression; occasionally with a comparison in a number's place (a type error).</summary>
    private static string Expression(Random random, int depth, string[] names, bool host, bool clean)
    {
        if (depth == 0 || random.Next(4) == 0)
        {
            return random.Next(3) == 0 || names.Length == 0
                ? (random.Next(2) == 0 ? random.Next(0, 4).ToString(System.Globalization.CultureInfo.InvariantCulture) : "0.5")
                : names[random.Next(names.Length)];
        }

        string E() => Expression(random, depth - 1, names, host, clean);
        switch (random.Next(7))
        {
            case 0:
                string u = Unary[random.Next(Unary.Length)];
                return u == "-" ? "-" + E() : $"{u}({E()})";
            case 1:
            case 2:
                string b = Binary[random.Next(Binary.Length - (clean && !host ? 1 : 0))]; // pow is per step only
                return b.Length == 1 ? $"({E()} {b} {E()})" : $"{b}({E()}, {E()})";
            case 3:
                return $"{E()} {Comparisons[random.Next(Comparisons.Length)]} {E()} ? {E()} : {E()}";
            case 4:
                return random.Next(3) switch { 0 => $"clamp({E()}, {E()}, {E()})", 1 => $"lerp({E()}, {E()}, {E()})", _ => $"fma({E()}, {E()}, {E()})" };
            case 5:
                return $"select({E()} {Comparisons[random.Next(Comparisons.Length)]} {E()}, {E()}, {E()})";
            default:
                return !clean && random.Next(4) == 0 ? $"({E()} < {E()})" : $"({E()})";
        }
    }

    /// <summary>A character deleted, noise inserted, or the end cut off.</summary>
    private static string Mutate(Random random, string text)
    {
        if (text.Length == 0)
        {
            return "#";
        }

        int at = random.Next(text.Length);
        return random.Next(3) switch
        {
            0 => text.Remove(at, 1),
            1 => text.Insert(at, Noise[random.Next(Noise.Length)]),
            _ => text.Substring(0, at),
        };
    }

    internal static string Literal(string text) => SymbolDisplay.FormatLiteral(text, quote: true);
}
