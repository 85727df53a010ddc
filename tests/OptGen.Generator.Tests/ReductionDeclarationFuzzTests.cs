using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit;

namespace OptGen.Generator.Tests;

/// <summary>
/// Expression rules built around reductions (fixed seed; <c>OPTGEN_REDUCTION_FUZZ_SEED</c> and
/// <c>OPTGEN_REDUCTION_FUZZ_BATCHES</c> explore further): every kind in every scope (tensor, row_, col_, block_,
/// group_, global_), nested in each other, inside step scalars, conditions, lets and state assignments, over randn(),
/// t and hyperparameters, and block_ forms whose length is a good constant, 0, negative, fractional, huge, a
/// hyperparameter, a state, an expression, missing or doubled. The generator never throws, every case is diagnosed
/// (an OPTG error inside its own declaration) or its generated code compiles with no warning or error (an OPTG warning,
/// such as OPTG0138 for a state the rule never uses, leaves the code generated).
/// </summary>
public sealed class ReductionDeclarationFuzzTests
{
    private const int CasesPerBatch = 40;

    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("OPTGEN_REDUCTION_FUZZ_SEED"), out int seed) ? seed : 20261205;

    private static readonly int Batches = int.TryParse(Environment.GetEnvironmentVariable("OPTGEN_REDUCTION_FUZZ_BATCHES"), out int batches) ? batches : 8;

    private static readonly string[] Kinds = ["sum", "mean", "norm", "maxabs"];
    private static readonly string[] Scopes = ["", "", "row_", "col_", "block_", "block_", "group_", "global_"];
    private static readonly string[] BlockLengths = ["4", "3", "1", "256", "0", "-2", "2.5", "Lr", "1e10", "2147483648", "m", "t", "(2 + 2)", "1e400", "4, 4", "0.0", "1e-300"];

    [Fact]
    public void ReductionRulesNeverThrowAndEitherDiagnoseOrCompile()
    {
        var random = new Random(Seed);
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

            string text = source.ToString();
            GeneratorHarness.Run run = GeneratorHarness.Generate(text);
            Assert.True(run.Exceptions.Count == 0, $"seed {Seed} batch {batch}: {string.Join("\n", run.Exceptions)}\n{text}");
            Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id is "CS8785" or "CS8784");
            var owners = run.OptGenDiagnostics.Where(ExpressionFuzzTests.IsError).Select(d => ExpressionFuzzTests.ClassAt(text, d)).ToHashSet(StringComparer.Ordinal);
            Assert.DoesNotContain(string.Empty, owners);
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
                    Assert.True(run.Files.ContainsKey($"Fuzz.Case{c}.g.cs"), $"seed {Seed} batch {batch}: no diagnostic and no code for:\n{rules[c]}");
                }
            }

            Diagnostic[] generatedErrors = run.Errors.Where(d => d.Location.GetLineSpan().Path.EndsWith(".g.cs", StringComparison.Ordinal)).ToArray();
            Assert.True(generatedErrors.Length == 0, $"seed {Seed} batch {batch}:\n" + string.Join("\n", generatedErrors.Select(d => d + "\n" + ExpressionFuzzTests.Line(d))) + "\nrules:\n" + text);
            Assert.DoesNotContain(run.Errors, d => d.Location.GetLineSpan().Path == "Consumer.cs");
        }

        Assert.True(diagnosed >= Batches * 5 && compiled >= Batches * 5, $"{diagnosed} diagnosed, {compiled} compiled");
    }

    private static string Rule(Random random, string name)
    {
        var text = new StringBuilder("[Optimizer]\n[Hyperparameter(\"Lr\", 0.01)]\n");
        var names = new List<string> { "p", "g", "t", "Lr" };
        if (random.Next(2) == 0)
        {
            text.Append("[Hyperparameter(\"Beta\", 0.9)]\n");
            names.Add("Beta");
        }

        string[] states = new[] { "m", "v" }.Where(_ => random.Next(2) == 0).ToArray();
        foreach (string s in states)
        {
            text.Append($"[State(\"{s}\")]\n");
            names.Add(s);
        }

        if (random.Next(4) == 0)
        {
            // A step scalar: per step, so a reduction (per element data) has no place in it.
            text.Append($"[StepScalar(\"k\", {ExpressionFuzzTests.Literal(Expression(random, 2, ["t", "Lr"], reductions: random.Next(2) == 0))})]\n");
            names.Add("k");
        }

        int statements = random.Next(1, 4);
        int locals = 0;
        for (int i = 0; i < statements; i++)
        {
            string value = Expression(random, 3, names.ToArray(), reductions: true);
            string statement = random.Next(4) switch
            {
                0 => $"let a{locals} = {value}",
                1 when states.Length > 0 => $"{states[random.Next(states.Length)]} = {value}",
                _ => $"p = p - Lr * ({value})",
            };
            if (statement.StartsWith("let", StringComparison.Ordinal))
            {
                names.Add($"a{locals++}");
            }

            text.Append($"[Update({ExpressionFuzzTests.Literal(statement)})]\n");
        }

        if (!text.ToString().Contains("\"p = ", StringComparison.Ordinal))
        {
            text.Append($"[Update({ExpressionFuzzTests.Literal($"p = p - Lr * {Reduction(random, 2, names.ToArray())} * g")})]\n");
        }

        return text.Append($"public partial class {name};\n\n").ToString();
    }

    private static string Reduction(Random random, int depth, string[] names)
    {
        string scope = Scopes[random.Next(Scopes.Length)];
        string kind = Kinds[random.Next(Kinds.Length)];
        string argument = Expression(random, depth - 1, names, reductions: random.Next(4) == 0);
        return scope == "block_"
            ? random.Next(12) == 0 ? $"block_{kind}({argument})" : $"block_{kind}({argument}, {BlockLengths[random.Next(BlockLengths.Length)]})"
            : $"{scope}{kind}({argument})";
    }

    private static string Expression(Random random, int depth, string[] names, bool reductions)
    {
        if (depth <= 0 || random.Next(4) == 0)
        {
            return random.Next(4) switch
            {
                0 => random.Next(0, 4).ToString(CultureInfo.InvariantCulture),
                1 => "randn()",
                _ => names[random.Next(names.Length)],
            };
        }

        string E() => Expression(random, depth - 1, names, reductions);
        return random.Next(reductions ? 7 : 5) switch
        {
            0 => $"({E()} + {E()})",
            1 => $"({E()} * {E()})",
            2 => $"sqrt(abs({E()}))",
            3 => $"({E()} > {E()} ? {E()} : {E()})",
            4 => $"lerp({E()}, {E()}, 0.5)",
            _ => Reduction(random, depth, names),
        };
    }
}
