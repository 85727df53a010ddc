using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json;
using OptGen.Runtime.Tests.Conformance;

namespace OptGen.Runtime.Tests.Reductions;

/// <summary>
/// Builds the float64 reference of a conformance case of the families with reductions (SCHEMA.md: <c>lamb</c>,
/// <c>lars</c>, <c>adafactor</c>, <c>adam_mini</c>, <c>adamw_schedulefree</c>) from its name and keys. Every key
/// SCHEMA lists is required and no other is accepted, so a case and its reference cannot silently disagree.
/// </summary>
internal static class ReductionReferences
{
    /// <summary>The names and their keys, in SCHEMA's order.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Keys = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["lamb"] = ["lr", "betas", "eps", "weight_decay"],
        ["lars"] = ["lr", "momentum", "weight_decay", "trust_coefficient"],
        ["adafactor"] = ["lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"],
        ["adam_mini"] = ["lr", "betas", "eps", "weight_decay", "block"],
        ["adamw_schedulefree"] = ["lr", "betas", "eps", "weight_decay", "warmup_steps", "r", "weight_lr_power"],
    };

    /// <summary>Whether <paramref name="optimizer"/> is one of the five names.</summary>
    public static bool Covers(string optimizer) => Keys.ContainsKey(optimizer);

    /// <summary>The reference for this case, at p₀, before its first step.</summary>
    public static ReductionReference For(ConformanceCase c) => For(c.Optimizer, c.Hyperparameters, c.TensorShapes, c.InitialParameters);

    /// <summary>The reference for this name, keys, shapes and p₀.</summary>
    public static ReductionReference For(string optimizer, IReadOnlyDictionary<string, JsonElement> hp, int[][] shapes, ReadOnlySpan<float> p0)
    {
        if (!Keys.TryGetValue(optimizer, out string[]? keys))
        {
            throw new ArgumentException($"'{optimizer}' is not a family with reductions.", nameof(optimizer));
        }

        string? unknown = hp.Keys.FirstOrDefault(k => !keys.Contains(k));
        string? missing = keys.FirstOrDefault(k => !hp.ContainsKey(k));
        if (unknown is not null || missing is not null)
        {
            throw new ArgumentException($"{optimizer}: " + (unknown is not null ? $"unknown key '{unknown}'" : $"'{missing}' is missing"), nameof(hp));
        }

        double Number(string key) => hp[key].GetDouble();
        double[] Pair(string key) => hp[key].EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? double.NaN : e.GetDouble()).ToArray();
        switch (optimizer)
        {
            case "lamb":
            {
                double[] betas = Pair("betas");
                return new LambReference(shapes, p0, betas[0], betas[1], Number("eps"), Number("weight_decay"));
            }

            case "lars":
                return new LarsReference(shapes, p0, Number("momentum"), Number("weight_decay"), Number("trust_coefficient"));
            case "adafactor":
            {
                double[] eps = Pair("eps");
                return new AdafactorReference(shapes, p0, Number("beta2_decay"), double.IsNaN(eps[0]) ? null : eps[0], eps[1], Number("d"), Number("weight_decay"), hp["maximize"].GetBoolean());
            }

            case "adam_mini":
            {
                double[] betas = Pair("betas");
                return new AdamMiniReference(shapes, p0, betas[0], betas[1], Number("eps"), Number("weight_decay"), hp["block"].GetInt32());
            }

            default:
            {
                double[] betas = Pair("betas");
                return new ScheduleFreeReference(shapes, p0, betas[0], betas[1], Number("eps"), Number("weight_decay"), hp["warmup_steps"].GetInt32(), Number("r"), Number("weight_lr_power"));
            }
        }
    }

    /// <summary>Runs the case's reference and measures it against the case's expected parameters (and eval parameters when given).</summary>
    public static (ErrorAccumulator Train, ErrorAccumulator? Eval) Measure(ConformanceCase c)
    {
        ReductionReference reference = For(c);
        var train = new ErrorAccumulator();
        ErrorAccumulator? eval = c.ExpectedEval is null ? null : new ErrorAccumulator();
        double lr = c.Hyperparameters["lr"].GetDouble();
        for (int t = 0; t < c.Steps; t++)
        {
            reference.Take(c.Gradients[t], c.LearningRatePerStep?[t] ?? lr);
            train.Add(c.Expected[t], ToFloat(reference.Parameters), t + 1);
            if (eval is not null)
            {
                eval.Add(c.ExpectedEval![t], ToFloat(((ScheduleFreeReference)reference).Eval), t + 1);
            }
        }

        return (train, eval);
    }

    /// <summary>Rounds a double vector to float32.</summary>
    public static float[] ToFloat(double[] values) => Array.ConvertAll(values, v => (float)v);
}
