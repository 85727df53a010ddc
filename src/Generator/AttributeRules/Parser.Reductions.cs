using System.Collections.Generic;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 1, continued: the attribute forms of reductions — [TrustRatio] (LAMB, LARS) and the shared second moment
    /// ([SecondMoment(Scope = …, BlockLength = …)], Adam-mini) — and the combinations they cannot take (OPTG0130–0134),
    /// each at the offending argument.
    /// </summary>
    internal static partial class Parser
    {
        /// <summary>Whether the rule has reductions: the generated class then derives from OptGen.ReductionOptimizer.</summary>
        internal static bool HasReductions(OptimizerSpec spec) => ReductionsOf(spec) is not null;

        /// <summary>
        /// A rule with reductions derives from OptGen.ReductionOptimizer: a class that names OptGen.Optimizer as its base
        /// (allowed for element-wise rules) would get generated code that cannot compile (CS0263).
        /// </summary>
        private static void CheckReductionBase(INamedTypeSymbol type, TypeDeclarationSyntax declaration, string? reductions, List<DiagnosticInfo> diagnostics)
        {
            if (reductions is null || type.BaseType?.ToDisplayString() != "OptGen.Optimizer")
            {
                return;
            }

            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax() is TypeDeclarationSyntax { BaseList: { } list } && list.Types.Count > 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReductionRuleBaseClass, list.Types[0].GetLocation(), type.Name, reductions));
                    return;
                }
            }

            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReductionRuleBaseClass, declaration.Identifier.GetLocation(), type.Name, reductions));
        }

        /// <summary>What gives an attribute rule reductions, for OPTG0135's message; null when it has none.</summary>
        private static string? ReductionsOf(OptimizerSpec spec) =>
            spec.TrustRatio is not null ? "[TrustRatio]"
            : spec.SecondMoment is { Scope: not MomentScope.Element } second ? $"[SecondMoment(Scope = MomentScope.{second.Scope})]"
            : null;

        private static OptimizerSpec ReadReductions(Dictionary<string, AttributeData> attributes, OptimizerSpec spec, List<DiagnosticInfo> diagnostics)
        {
            if (spec.SecondMoment is { } second && attributes.TryGetValue("SecondMomentAttribute", out AttributeData? sm))
            {
                spec = spec with { SecondMoment = ReadScope(sm, second, diagnostics) };
            }

            if (attributes.TryGetValue("TrustRatioAttribute", out AttributeData? tr))
            {
                spec = spec with { TrustRatio = ReadTrustRatio(tr, spec, diagnostics) };
            }

            return spec;
        }

        private static SecondMomentSpec ReadScope(AttributeData sm, SecondMomentSpec second, List<DiagnosticInfo> diagnostics)
        {
            var scope = (MomentScope)NamedInt(sm, "Scope");
            bool hasLength = TryNamedValue(sm, "BlockLength", out object? rawLength);
            int length = rawLength is int l ? l : 0;
            if (scope == MomentScope.Block && (!hasLength || length < 1))
            {
                diagnostics.Add(Error(DiagnosticDescriptors.InvalidMomentBlockLength, sm, hasLength ? "BlockLength" : "Scope",
                    hasLength
                        ? $"BlockLength must be a whole number from 1 to 2147483647 (one second moment per block of that many elements), not {length}"
                        : "Scope = MomentScope.Block needs BlockLength = B, the block's length (B ≥ 1)"));
            }
            else if (scope != MomentScope.Block && hasLength)
            {
                diagnostics.Add(Error(DiagnosticDescriptors.InvalidMomentBlockLength, sm, "BlockLength",
                    "BlockLength is given but Scope is not MomentScope.Block; add Scope = MomentScope.Block or remove BlockLength"));
            }

            if (scope != MomentScope.Element)
            {
                (string With, string Why)? conflict =
                    second.Centered ? ("Centered = true", "the running mean ḡ is per element, so v − ḡ² would be per element again; declare the centered form as an expression rule")
                    : second.Input == SecondMomentInput.PerExampleSquares ? ("Input = SecondMomentInput.PerExampleSquares", "a rule with reductions runs in passes that read p, g and the state only, not the inputs beside g")
                    : second.HasInitialValue ? ("InitialValue", "a shared second moment starts at 0")
                    : null;
                if (conflict is { } c)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.MomentScopeConflict, sm, "Scope", scope.ToString(), c.With, c.Why));
                }
            }

            return second with { Scope = scope, BlockLength = scope == MomentScope.Block ? length : 0 };
        }

        private static TrustRatioSpec ReadTrustRatio(AttributeData tr, OptimizerSpec spec, List<DiagnosticInfo> diagnostics)
        {
            var form = (TrustRatioForm)NamedInt(tr, "Form");
            string formName = form == TrustRatioForm.Lars ? "LARS" : "LAMB";
            double coefficient = form == TrustRatioForm.Lars ? 0.001 : 1;
            if (TryNamed(tr, "Coefficient", out double c))
            {
                coefficient = c;
                RequirePositive(tr, "Coefficient", "Coefficient (the trust coefficient κ)", c, diagnostics);
            }

            double? max = null;
            if (TryNamed(tr, "MaxRatio", out double m))
            {
                max = m;
                RequirePositive(tr, "MaxRatio", "MaxRatio (the bound on the ratio)", m, diagnostics);
            }

            // At Form when it is given, else at the attribute.
            string? at = TryNamedValue(tr, "Form", out _) ? "Form" : null;
            DiagnosticInfo Conflict(string with, string why) => Error(DiagnosticDescriptors.TrustRatioConflict, tr, at, formName, with, why);

            if (form == TrustRatioForm.Lamb)
            {
                if (spec.SecondMoment is null)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.TrustRatioNeedsSecondMoment, tr, at,
                        "LAMB's ratio ‖p‖/‖r‖ scales the adaptive direction r = m̂/(√v̂ + ε) + λp; for a ratio on the gradient use Form = TrustRatioForm.Lars"));
                }
                else if (spec.SecondMoment.Scope != MomentScope.Element)
                {
                    diagnostics.Add(Conflict($"[SecondMoment(Scope = MomentScope.{spec.SecondMoment.Scope})]",
                        "r reads the shared second moment, itself a reduction, and a rule reduces once, in one pass before its update; declare the moment per element"));
                }
                else if (spec.Momentum is not null)
                {
                    diagnostics.Add(Conflict("[Momentum]", "LAMB's ratio scales the step p ← p − η·trust·r itself; for a ratio applied before momentum use Form = TrustRatioForm.Lars"));
                }
                else if (spec.NesterovMomentumDecay is not null || spec.Rectified is not null || spec.DeltaAccumulator)
                {
                    string name = spec.NesterovMomentumDecay is not null ? "[NesterovMomentumDecay]" : spec.Rectified is not null ? "[Rectified]" : "[DeltaAccumulator]";
                    diagnostics.Add(Conflict(name, "it writes its own step of p, which LAMB's p ← p − η·trust·r replaces"));
                }
            }
            else if (spec.SecondMoment is not null)
            {
                diagnostics.Add(Conflict("[SecondMoment]", "LARS's ratio scales the gradient, and an adaptive denominator divides that scale out again; use the LAMB form (the default)"));
            }
            else if (spec.WeightDecay is { Decoupled: true })
            {
                diagnostics.Add(Conflict("[WeightDecay(Decoupled = true)]", "LARS adds λ·p to the gradient (L2), which its ratio's λ·‖p‖ stands for; remove Decoupled"));
            }

            if (spec.SecondMoment is { Input: SecondMomentInput.PerExampleSquares })
            {
                diagnostics.Add(Conflict("[SecondMoment(Input = SecondMomentInput.PerExampleSquares)]", "a rule with reductions runs in passes that read p, g and the state only, not the inputs beside g"));
            }

            return new TrustRatioSpec(form, coefficient, max);
        }

        private static void RequirePositive(AttributeData attribute, string argument, string what, double value, List<DiagnosticInfo> diagnostics)
        {
            if (!HyperparameterRanges.Contains(HyperparameterRange.Positive, value))
            {
                diagnostics.Add(Error(DiagnosticDescriptors.TrustRatioOutOfRange, attribute, argument, what, HyperparameterRanges.Text(HyperparameterRange.Positive), Format(value)));
            }
        }
    }
}
