using System;
using System.Collections.Generic;
using System.IO;
using OptGen.Runtime.Tests.Reductions;
using static OptGen.Runtime.Tests.TrainingTestData;

namespace OptGen.Runtime.Tests.Audit;

/// <summary>
/// One optimizer of every kind the runtime steps, for the audit tests that try the same misuse on all of them:
/// element-wise rules in float32, bfloat16, 8-bit and 4-bit state and a precision per group; the rules with
/// reductions (catalog and declared, attribute and expression) in the precisions they take; compact state; a carried
/// host scalar; per-example units. Each maker returns a new optimizer, the same every call. Layouts are small; a
/// blockwise kind has one tensor over <see cref="Optimizer.BlockwiseThreshold"/> (with a partial last block) and one
/// below it.
/// </summary>
internal static class AuditKinds
{
    public static readonly IReadOnlyDictionary<string, Func<Optimizer>> Makers = new Dictionary<string, Func<Optimizer>>
    {
        ["NAdam"] = () => new NAdam(new ParameterLayout([13], [6])),
        ["AdamW bf16"] = () => With(new AdamW(new ParameterLayout([11, 3], [5])), StatePrecision.BFloat16),
        ["Adam int8"] = () => With(new Adam(new ParameterLayout([4100, 5])), StatePrecision.Int8Blockwise),
        ["Lion int4"] = () => With(new Lion(new ParameterLayout([4097], [7])), StatePrecision.Int4Blockwise),
        ["Adam groups"] = () =>
        {
            var adam = new Adam(new ParameterLayout([4100], [4099, 6], [7]));
            adam.Groups[0].StatePrecision = StatePrecision.Int8Blockwise;
            adam.Groups[1].StatePrecision = StatePrecision.Int4Blockwise;
            adam.Groups[2].StatePrecision = StatePrecision.BFloat16;
            return adam;
        },
        ["LAMB int8"] = () => With(new Lamb(new ParameterLayout([4100, 9], [6])), StatePrecision.Int8Blockwise),
        ["LARS groups"] = () =>
        {
            var lars = new Lars(new ParameterLayout([4099], [8]));
            lars.Groups[0].StatePrecision = StatePrecision.Int4Blockwise;
            lars.Groups[1].StatePrecision = StatePrecision.BFloat16;
            return lars;
        },
        ["schedule-free int8"] = () => With(new AdamWScheduleFree(new ParameterLayout([4100], [4])) { WarmupSteps = 2 }, StatePrecision.Int8Blockwise),
        ["schedule-free"] = () => new AdamWScheduleFree(new ParameterLayout([9], [4])) { WarmupSteps = 2 },
        ["Adafactor bf16"] = () => With(new Adafactor(ParameterLayout.FromShapes([[3, 5], [2, 2, 3]], [[7]])), StatePrecision.BFloat16),
        ["Adam-mini"] = () => new AdamMini(ParameterLayout.FromShapes([[4, 6]], [[9]])) { BlockSize = 4 },
        ["attribute Adam-mini"] = () => new AttributeAdamMini(ParameterLayout.FromShapes([[4, 8]], [[5]])),
        ["attribute LAMB int4"] = () => With(new AttributeLamb(new ParameterLayout([4097, 3])), StatePrecision.Int4Blockwise),
        ["declared LAMB bf16"] = () => With(new DeclaredLamb(new ParameterLayout([10], [7])), StatePrecision.BFloat16),
        ["declared NovoGrad"] = () => new DeclaredNovoGrad(new ParameterLayout([10, 3])),
        ["declared factored"] = () => new DeclaredFactored(ParameterLayout.FromShapes([[3, 4], [5]])),
        ["per-example Adam"] = () => new PerExampleAdam(new ParameterLayout([12])) { BatchSize = 8 },
    };

    public static IEnumerable<string> Names => Makers.Keys;

    public static Optimizer With(Optimizer optimizer, StatePrecision precision)
    {
        optimizer.ChangeStatePrecision(precision);
        return optimizer;
    }

    /// <summary>A fresh optimizer of <paramref name="kind"/> after <paramref name="steps"/> steps on <paramref name="seed"/>'s data.</summary>
    public static Optimizer Trained(string kind, int seed, int steps = 3)
    {
        Optimizer optimizer = Makers[kind]();
        var random = new Random(seed);
        float[] p = Random(random, optimizer.Length);
        for (int t = 0; t < steps; t++)
        {
            optimizer.Step(p, Random(random, optimizer.Length, 0.1));
        }

        return optimizer;
    }

    public static byte[] Save(Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        optimizer.SaveCheckpoint(stream);
        return stream.ToArray();
    }
}
