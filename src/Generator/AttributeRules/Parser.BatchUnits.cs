using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 1, continued: the batch-size vocabulary of the building blocks — the <c>Units</c> of [LearningRate],
    /// [FirstMoment], [SecondMoment] and [Momentum] (per step, or per example: the lecture's η′ and N′ for B = 1) and
    /// the second moment's <c>Input</c> (g², or the batch mean of per-example squared gradients).
    /// </summary>
    internal static partial class Parser
    {
        private static OptimizerSpec ReadBatchUnits(Dictionary<string, AttributeData> attributes, OptimizerSpec spec, List<DiagnosticInfo> diagnostics)
        {
            BatchUnits learningRate = attributes.TryGetValue("LearningRateAttribute", out AttributeData? lr) ? (BatchUnits)NamedInt(lr, "Units") : BatchUnits.PerStep;
            BatchUnits first = LengthUnits(attributes, "FirstMomentAttribute", "[FirstMoment]",
                spec.NesterovMomentumDecay is null ? null : "NAdam's μₜ schedule carries β₁ from step to step in its product Πₜ, which does not follow a batch size that changes", diagnostics);
            string? noLength = spec.SecondMoment is { Kind: not SecondMomentKind.ExponentialAverage } second
                ? $"a {second.Kind} second moment has no running-average length to count in examples"
                : null;
            BatchUnits secondUnits = LengthUnits(attributes, "SecondMomentAttribute", "[SecondMoment]", noLength, diagnostics);
            BatchUnits momentum = LengthUnits(attributes, "MomentumAttribute", "[Momentum]", null, diagnostics);

            var input = SecondMomentInput.Gradient;
            if (attributes.TryGetValue("SecondMomentAttribute", out AttributeData? sm))
            {
                input = (SecondMomentInput)NamedInt(sm, "Input");
                if (input == SecondMomentInput.PerExampleSquares && spec.SecondMoment is { Kind: SecondMomentKind.InfinityNorm })
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.PerExampleSquaresNeed, sm, "Input", "an InfinityNorm second moment takes the maximum of |g|, not an average of squares"));
                }
            }

            return spec with
            {
                Units = new BatchUnitsSpec(learningRate, first, secondUnits, momentum),
                SecondMoment = spec.SecondMoment is null ? null : spec.SecondMoment with { Input = input },
            };
        }

        /// <summary>The <c>Units</c> of a running-average length: per step or per example; never √B (only a learning rate scales so).</summary>
        private static BatchUnits LengthUnits(Dictionary<string, AttributeData> attributes, string attribute, string what, string? noLength, List<DiagnosticInfo> diagnostics)
        {
            if (!attributes.TryGetValue(attribute, out AttributeData? data))
            {
                return BatchUnits.PerStep;
            }

            var units = (BatchUnits)NamedInt(data, "Units");
            if (units == BatchUnits.PerExampleSquareRoot)
            {
                diagnostics.Add(Error(DiagnosticDescriptors.InvalidBatchUnits, data, "Units", what, units.ToString(),
                    "only a learning rate scales by √B; a length in examples is BatchUnits.PerExample (N = max(1, N′/B))"));
            }
            else if (units == BatchUnits.PerExample && noLength is not null)
            {
                diagnostics.Add(Error(DiagnosticDescriptors.InvalidBatchUnits, data, "Units", what, units.ToString(), noLength));
            }

            return units;
        }
    }
}
