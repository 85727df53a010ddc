using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Phase 1: reads the update-rule attributes on an [Optimizer] class into a normalized
    /// <see cref="OptimizerSpec"/>, and reports every mistake as a diagnostic at the offending argument.
    /// Never throws on user input.
    /// </summary>
    internal static partial class Parser
    {
        internal const string Namespace = "OptGen.";
        internal const string OptimizerAttribute = Namespace + "OptimizerAttribute";

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var diagnostics = new List<DiagnosticInfo>();
            if (context.TargetSymbol is not INamedTypeSymbol type || context.TargetNode is not TypeDeclarationSyntax declaration)
            {
                return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            }

            Location nameLocation = declaration.Identifier.GetLocation();
            cancellationToken.ThrowIfCancellationRequested();
            if (!IsPrimaryDeclaration(type, declaration))
            {
                return new ParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            }

            CheckDeclaration(type, declaration, context.SemanticModel, nameLocation, diagnostics);
            CheckDeclarationExtras(type, declaration, diagnostics);
            CheckOtherPartsArePartial(type, declaration, diagnostics);
            CheckNamespaceShadowing(type, context.SemanticModel.Compilation, nameLocation, diagnostics);
            StateStorageSpec storage = StateStorage.StateStorageRules.Read(type);
            if (ExpressionRules.IsExpressionRule(type))
            {
                ExpressionRuleSpec? rule = CheckAttributes(type, context.SemanticModel, diagnostics, cancellationToken)
                    ? ExpressionRules.Read(type, nameLocation, context.SemanticModel.Compilation, diagnostics)
                    : null;
                CheckReductionBase(type, declaration, rule is { Reductions.Count: > 0 } ? "the reductions of its [Update] statements" : null, diagnostics);
                return new ParseResult(null, diagnostics.ToEquatableArray(), HasErrors(diagnostics) ? null : rule) { Storage = storage };
            }

            OptimizerSpec? spec = CheckAttributes(type, context.SemanticModel, diagnostics, cancellationToken)
                ? ReadRule(type, context.SemanticModel.Compilation, nameLocation, diagnostics)
                : null;
            if (spec is not null && !HasErrors(diagnostics))
            {
                CheckRuleCombinations(type, spec, diagnostics);
                CheckReductionBase(type, declaration, ReductionsOf(spec), diagnostics);
                CheckGeneratedNames(type, context.SemanticModel.Compilation, spec, nameLocation, diagnostics);
            }

            return new ParseResult(HasErrors(diagnostics) ? null : spec, diagnostics.ToEquatableArray()) { Storage = storage };
        }

        private static void CheckDeclaration(INamedTypeSymbol type, TypeDeclarationSyntax declaration, SemanticModel model, Location location, List<DiagnosticInfo> diagnostics)
        {
            if (declaration.SyntaxTree.Options is CSharpParseOptions options && options.LanguageVersion < LanguageVersion.CSharp11)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.LanguageVersion, location, options.LanguageVersion.ToDisplayString()));
            }

            if (type.TypeKind != TypeKind.Class || declaration is RecordDeclarationSyntax)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotAClass, location, type.Name));
                return;
            }

            if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, location, type.Name));
            }

            if (type.IsStatic)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StaticClass, location, type.Name));
            }

            for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
            {
                if (t.TypeParameters.Length > 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Generic, location, type.Name));
                    break;
                }
            }

            for (SyntaxNode? parent = declaration.Parent; parent is TypeDeclarationSyntax outer; parent = parent.Parent)
            {
                if (!outer.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContainingTypeNotPartial, outer.Identifier.GetLocation(), outer.Identifier.Text, type.Name));
                }
            }

            if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType
                && baseType.ToDisplayString() != "OptGen.Optimizer")
            {
                Location baseLocation = declaration.BaseList?.Types.FirstOrDefault()?.GetLocation() ?? location;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HasBaseClass, baseLocation, type.Name));
            }
            else if (type.BaseType is { SpecialType: SpecialType.System_Object } && ExplicitObjectBase(type, model) is { } objectBase)
            {
                // `partial class L : object` names a base class too: the generated `: OptGen.Optimizer` would not compile (CS0263).
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HasBaseClass, objectBase, type.Name));
            }
        }

        /// <summary>Where a declaration of <paramref name="type"/> names System.Object as its base class (<c>: object</c>), or null.</summary>
        private static Location? ExplicitObjectBase(INamedTypeSymbol type, SemanticModel model)
        {
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax() is TypeDeclarationSyntax { BaseList: { Types.Count: > 0 } list })
                {
                    SemanticModel treeModel = reference.SyntaxTree == model.SyntaxTree ? model : model.Compilation.GetSemanticModel(reference.SyntaxTree);
                    if (treeModel.GetTypeInfo(list.Types[0].Type).Type is { SpecialType: SpecialType.System_Object })
                    {
                        return list.Types[0].GetLocation();
                    }
                }
            }

            return null;
        }

        private static OptimizerSpec? ReadRule(INamedTypeSymbol type, Compilation compilation, Location location, List<DiagnosticInfo> diagnostics)
        {
            var attributes = new Dictionary<string, AttributeData>(StringComparer.Ordinal);
            foreach (AttributeData attribute in type.GetAttributes())
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                if (name is not null && name.StartsWith(Namespace, StringComparison.Ordinal) && !attributes.ContainsKey(name.Substring(Namespace.Length)))
                {
                    attributes.Add(name.Substring(Namespace.Length), attribute);
                }
            }

            string ruleName = Named<string>(attributes, "OptimizerAttribute", "Name") ?? FullName(type);

            // η and Adagrad's learning-rate decay.
            double learningRate = 1e-3;
            double learningRateDecay = 0;
            bool hasDecay = false;
            if (attributes.TryGetValue("LearningRateAttribute", out AttributeData? lr))
            {
                learningRate = Positional(lr, 0);
                RequireRange(diagnostics, lr, 0, null, "The learning rate η", learningRate, nonNegative: true);
                if (TryNamed(lr, "Decay", out double decay))
                {
                    hasDecay = true;
                    learningRateDecay = decay;
                    RequireRange(diagnostics, lr, -1, "Decay", "The learning-rate decay", decay, nonNegative: true);
                }
            }

            FirstMomentSpec? first = null;
            if (attributes.TryGetValue("FirstMomentAttribute", out AttributeData? fm))
            {
                double beta = ReadBeta(fm, "FirstMoment", diagnostics);
                first = new FirstMomentSpec(beta, (MomentInput)NamedInt(fm, "Input"), (MomentStart)NamedInt(fm, "Start"));
            }

            SecondMomentSpec? second = null;
            if (attributes.TryGetValue("SecondMomentAttribute", out AttributeData? sm))
            {
                var kind = (SecondMomentKind)NamedInt(sm, "Kind");
                bool averaged = kind is SecondMomentKind.ExponentialAverage or SecondMomentKind.InfinityNorm;
                double beta = 0;
                if (averaged)
                {
                    beta = ReadBeta(sm, "SecondMoment", diagnostics);
                }
                else if (TryNamed(sm, "Beta", out _) || TryNamed(sm, "Length", out _))
                {
                    string given = TryNamed(sm, "Beta", out _) ? "Beta" : "Length";
                    diagnostics.Add(Error(DiagnosticDescriptors.AccumulatorTakesNoDecay, sm, given, kind.ToString(), given));
                }

                bool centered = NamedBool(sm, "Centered");
                bool hasInitial = TryNamed(sm, "InitialValue", out double init);
                double initial = hasInitial ? init : 0;
                RequireRange(diagnostics, sm, -1, "InitialValue", "The initial accumulator value", initial, nonNegative: true);
                double power = TryNamed(sm, "Power", out double pw) ? pw : 0.5;
                if (power != 0.5 && power != 1.0)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.InvalidPower, sm, "Power", Format(power)));
                }

                if (centered && kind != SecondMomentKind.ExponentialAverage)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.CenteredNeedsAverage, sm, "Centered", kind.ToString()));
                }

                if (kind == SecondMomentKind.InfinityNorm && power != 0.5)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.InfinityNormTakesNoPower, sm, "Power"));
                }

                string propertyName = Named<string>(sm, "Name") ?? "Beta2";
                if (!SyntaxFacts.IsValidIdentifier(propertyName) || SyntaxFacts.GetKeywordKind(propertyName) != SyntaxKind.None || propertyName.All(c => c == '_'))
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.InvalidName, sm, "Name", propertyName));
                }

                second = new SecondMomentSpec(beta, kind, (MomentStart)NamedInt(sm, "Start"), centered, initial, hasInitial, power, propertyName);
            }

            var biasCorrection = BiasCorrectionMode.None;
            if (attributes.TryGetValue("BiasCorrectionAttribute", out AttributeData? bc))
            {
                biasCorrection = (BiasCorrectionMode)PositionalInt(bc, 0);
                bool anyAverage = first is not null || second is { Kind: SecondMomentKind.ExponentialAverage or SecondMomentKind.InfinityNorm };
                if (biasCorrection != BiasCorrectionMode.None && !anyAverage)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.NothingToCorrect, bc, null, biasCorrection.ToString()));
                }

                if (biasCorrection == BiasCorrectionMode.MinT && second is { Kind: SecondMomentKind.InfinityNorm })
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.MinTOnInfinityNorm, bc, null));
                }
            }

            EpsilonSpec? epsilon = null;
            if (attributes.TryGetValue("EpsilonAttribute", out AttributeData? eps))
            {
                double value = Positional(eps, 0);
                var placement = (EpsilonPlacement)NamedInt(eps, "Placement");
                if (!(value > 0) || double.IsInfinity(value))
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.InvalidEpsilon, eps, null, Format(value),
                        placement == EpsilonPlacement.Decoupled ? " (the decoupled form divides by ε)" : string.Empty));
                }
                else if (HyperparameterRanges.Float32Problem(value, zeroAllowed: false) is string float32)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.NotFloat32, eps, null, "ε", Format(value), float32));
                }

                bool before = NamedBool(eps, "BeforeBiasCorrection");
                if (second is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NeedsSecondMoment, eps.ApplicationSyntaxReference?.GetSyntax().GetLocation(), "[Epsilon] (ε sits in the denominator built from s)"));
                }
                else if (second.Kind == SecondMomentKind.InfinityNorm && (placement != EpsilonPlacement.OutsideSqrt || before))
                {
                    string given = placement != EpsilonPlacement.OutsideSqrt ? "Placement" : "BeforeBiasCorrection";
                    diagnostics.Add(Error(DiagnosticDescriptors.InfinityNormEpsilonPlacement, eps, given, given));
                }

                if (before && biasCorrection != BiasCorrectionMode.Power)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.BeforeBiasCorrectionNeeds, eps, "BeforeBiasCorrection", "[BiasCorrection(BiasCorrectionMode.Power)]"));
                }

                epsilon = new EpsilonSpec(value, placement, before);
            }

            bool amsGrad = attributes.TryGetValue("AmsGradAttribute", out AttributeData? ams);
            if (amsGrad && second is not { Kind: SecondMomentKind.ExponentialAverage })
            {
                diagnostics.Add(Error(DiagnosticDescriptors.NeedsSecondMoment, ams!, null, "[AmsGrad] (an exponential-average one)"));
            }

            MomentumSpec? momentum = null;
            if (attributes.TryGetValue("MomentumAttribute", out AttributeData? mo))
            {
                bool hasCoefficient = mo.ConstructorArguments.Length == 1;
                bool hasLength = TryNamed(mo, "Length", out double length);
                double coefficient = 0;
                if (hasCoefficient == hasLength)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.ConflictingArguments, mo, hasLength ? "Length" : null, "Momentum", "a coefficient μ or Length = N"));
                }
                else if (hasLength)
                {
                    if (!IsUsableLength(length))
                    {
                        diagnostics.Add(Error(DiagnosticDescriptors.InvalidLength, mo, "Length", "Momentum Length", Format(length)));
                    }
                    else
                    {
                        coefficient = 1 - (1 / length);
                    }
                }
                else
                {
                    coefficient = Positional(mo, 0);
                    if (!(coefficient >= 0 && coefficient < 1))
                    {
                        diagnostics.Add(Error(DiagnosticDescriptors.InvalidBeta, mo, null, "The momentum μ", Format(coefficient)));
                    }
                }

                double dampening = TryNamed(mo, "Dampening", out double d) ? d : 0;
                if (!HyperparameterRanges.Contains(HyperparameterRange.Probability, dampening))
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.OutOfRange, mo, "Dampening", "Dampening", HyperparameterRanges.Text(HyperparameterRange.Probability), Format(dampening)));
                }

                bool nesterov = NamedBool(mo, "Nesterov");
                var style = (MomentumStyle)NamedInt(mo, "Style");
                if (nesterov && (dampening != 0 || style != MomentumStyle.PyTorch))
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.NesterovNeedsPyTorchStyle, mo, "Nesterov", dampening != 0 ? "Dampening" : "Style"));
                }

                if (style == MomentumStyle.Classic && dampening != 0)
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.ClassicMomentumDampening, mo, "Dampening"));
                }

                momentum = new MomentumSpec(coefficient, dampening, nesterov, style);
            }

            WeightDecaySpec? weightDecay = null;
            if (attributes.TryGetValue("WeightDecayAttribute", out AttributeData? wd))
            {
                double value = Positional(wd, 0);
                RequireRange(diagnostics, wd, 0, null, "The weight decay λ", value, nonNegative: true);
                weightDecay = new WeightDecaySpec(value, NamedBool(wd, "Decoupled"));
            }

            bool maximize = attributes.ContainsKey("MaximizeAttribute");

            var spec = new OptimizerSpec(
                TypeInfoOf(type),
                ruleName,
                learningRate,
                learningRateDecay,
                hasDecay,
                first,
                second,
                biasCorrection,
                epsilon,
                amsGrad,
                momentum,
                weightDecay,
                maximize);
            spec = ReadStepSchedules(attributes, spec, diagnostics);
            spec = ReadBatchUnits(attributes, spec, diagnostics);
            spec = ReadReductions(attributes, spec, diagnostics);

            CheckCollisions(type, compilation, spec, location, diagnostics);
            return spec;
        }

        private static void CheckCollisions(INamedTypeSymbol type, Compilation compilation, OptimizerSpec spec, Location location, List<DiagnosticInfo> diagnostics)
        {
            if (diagnostics.Count > 0)
            {
                return;
            }

            CheckUserMembers(type, compilation, AttributeRules.AttributeLowering.GeneratedMemberNames(spec), HasReductions(spec), location, diagnostics);
        }

        private static double ReadBeta(AttributeData attribute, string what, List<DiagnosticInfo> diagnostics)
        {
            bool hasLength = TryNamed(attribute, "Length", out double length);
            bool hasBeta = TryNamed(attribute, "Beta", out double beta);
            if (hasLength == hasBeta)
            {
                diagnostics.Add(Error(DiagnosticDescriptors.ConflictingArguments, attribute, hasLength ? "Beta" : null, what, "Length = N or Beta = β"));
                return 0;
            }

            if (hasLength)
            {
                if (!IsUsableLength(length))
                {
                    diagnostics.Add(Error(DiagnosticDescriptors.InvalidLength, attribute, "Length", what + " Length", Format(length)));
                    return 0;
                }

                return 1 - (1 / length);
            }

            if (!(beta >= 0 && beta < 1))
            {
                diagnostics.Add(Error(DiagnosticDescriptors.InvalidBeta, attribute, "Beta", what + " Beta", Format(beta)));
                return 0;
            }

            return beta;
        }

        private static void RequireRange(List<DiagnosticInfo> diagnostics, AttributeData attribute, int position, string? name, string what, double value, bool nonNegative)
        {
            HyperparameterRange range = nonNegative ? HyperparameterRange.NonNegative : HyperparameterRange.Finite;
            Location? location = name is null ? ArgumentLocation(attribute, position) : ArgumentLocation(attribute, name);
            if (!HyperparameterRanges.InRange(range, value))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, location, what, HyperparameterRanges.Text(range), Format(value)));
            }
            else if (HyperparameterRanges.Float32Problem(value, zeroAllowed: true) is string float32)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotFloat32, location, what, Format(value), float32));
            }
        }

        private static DiagnosticInfo Error(DiagnosticDescriptor descriptor, AttributeData attribute, string? argument, params object?[] arguments)
        {
            Location? location = argument is null ? ArgumentLocation(attribute, 0) : ArgumentLocation(attribute, argument);
            return DiagnosticInfo.Create(descriptor, location, arguments);
        }

        /// <summary>The location of a named argument, or of the whole attribute when it is absent.</summary>
        private static Location? ArgumentLocation(AttributeData attribute, string name)
        {
            if (attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax)
            {
                AttributeArgumentSyntax? argument = syntax.ArgumentList?.Arguments.FirstOrDefault(a =>
                    a.NameEquals?.Name.Identifier.ValueText == name || a.NameColon?.Name.Identifier.ValueText == name);
                return (argument ?? (SyntaxNode)syntax).GetLocation();
            }

            return null;
        }

        /// <summary>The location of a positional argument, or of the whole attribute when it is absent.</summary>
        private static Location? ArgumentLocation(AttributeData attribute, int position) =>
            ConstructorArgument(attribute, position)?.GetLocation()
            ?? (attribute.ApplicationSyntaxReference?.GetSyntax() as AttributeSyntax)?.GetLocation();

        /// <summary>
        /// The syntax of the argument given for the constructor parameter at <paramref name="position"/>: the one named
        /// after it (<c>defaultValue: 0.1</c>, in any order), else the one at that position, or null.
        /// </summary>
        internal static AttributeArgumentSyntax? ConstructorArgument(AttributeData attribute, int position)
        {
            if (position < 0 || attribute.ApplicationSyntaxReference?.GetSyntax() is not AttributeSyntax { ArgumentList: { } list })
            {
                return null;
            }

            string? parameter = attribute.AttributeConstructor?.Parameters.ElementAtOrDefault(position)?.Name;
            var arguments = list.Arguments.Where(a => a.NameEquals is null).ToList();
            return arguments.FirstOrDefault(a => parameter is not null && a.NameColon?.Name.Identifier.ValueText == parameter)
                ?? (position < arguments.Count && arguments[position].NameColon is null ? arguments[position] : null);
        }

        private static T? Named<T>(Dictionary<string, AttributeData> attributes, string attribute, string name)
            where T : class => attributes.TryGetValue(attribute, out AttributeData? data) ? Named<T>(data, name) : null;

        /// <summary>Whether the named argument <paramref name="name"/> is given (and readable), and its value.</summary>
        private static bool TryNamedValue(AttributeData attribute, string name, out object? value)
        {
            foreach (KeyValuePair<string, TypedConstant> pair in attribute.NamedArguments)
            {
                if (pair.Key == name && pair.Value.Kind != TypedConstantKind.Error)
                {
                    value = pair.Value.Value;
                    return true;
                }
            }

            value = null;
            return false;
        }

        private static T? Named<T>(AttributeData attribute, string name)
            where T : class => TryNamedValue(attribute, name, out object? value) ? value as T : null;

        private static bool TryNamed(AttributeData attribute, string name, out double value)
        {
            bool present = TryNamedValue(attribute, name, out object? raw);
            value = present ? ToDouble(raw) : 0;
            return present;
        }

        private static int NamedInt(AttributeData attribute, string name) => TryNamedValue(attribute, name, out object? value) && value is int i ? i : 0;

        private static bool NamedBool(AttributeData attribute, string name) => TryNamedValue(attribute, name, out object? value) && value is true;

        private static double Positional(AttributeData attribute, int index) =>
            index < attribute.ConstructorArguments.Length ? ToDouble(attribute.ConstructorArguments[index].Value) : double.NaN;

        private static int PositionalInt(AttributeData attribute, int index) =>
            index < attribute.ConstructorArguments.Length && attribute.ConstructorArguments[index].Value is int i ? i : 0;

        private static double ToDouble(object? value) => value switch
        {
            double d => d,
            float f => f,
            int i => i,
            long l => l,
            _ => double.NaN,
        };

        internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        internal static string FullName(INamedTypeSymbol type) =>
            type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", string.Empty);

        internal static TypeDeclarationInfo TypeInfoOf(INamedTypeSymbol type)
        {
            string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? EscapedNamespace(n) : string.Empty;
            var containing = new List<string>();
            for (INamedTypeSymbol? t = type.ContainingType; t is not null; t = t.ContainingType)
            {
                string keyword = t.IsRecord ? "record" : t.TypeKind == TypeKind.Struct ? "struct" : t.TypeKind == TypeKind.Interface ? "interface" : "class";
                if (t.IsRecord && t.TypeKind == TypeKind.Struct)
                {
                    keyword = "record struct";
                }

                containing.Insert(0, $"partial {keyword} {Escape(t.Name)}");
            }

            return new TypeDeclarationInfo(ns, Escape(type.Name), containing.ToEquatableArray(), HintNameOf(type));
        }
    }
}
