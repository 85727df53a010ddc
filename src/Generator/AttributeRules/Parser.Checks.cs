using System;
using System.Collections.Generic;
using System.Collections.Immutable;
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
    /// The checks that guard the parser against everything a user can type: duplicated attributes, attributes the
    /// compiler could not bind, undefined enum values, file-local classes, rule attributes on a class that is not
    /// an optimizer, and generated names that clash with inherited or other generated members.
    /// </summary>
    internal static partial class Parser
    {
        /// <summary>
        /// The metadata names (without the <c>OptGen.</c> namespace) of the update-rule attributes: each is watched
        /// for use on a type without [Optimizer] (OPTG0019). A new rule attribute must be added here.
        /// </summary>
        internal static readonly ImmutableArray<string> RuleAttributes = ImmutableArray.Create(
            "LearningRateAttribute",
            "FirstMomentAttribute",
            "SecondMomentAttribute",
            "BiasCorrectionAttribute",
            "EpsilonAttribute",
            "AmsGradAttribute",
            "MomentumAttribute",
            "WeightDecayAttribute",
            "MaximizeAttribute",
            "NesterovMomentumDecayAttribute",
            "RectifiedAttribute",
            "DeltaAccumulatorAttribute",
            "TrustRatioAttribute",
            "StateAttribute",
            "HyperparameterAttribute",
            "StepScalarAttribute",
            "UpdateAttribute",
            "DefaultStatePrecisionAttribute",
            "NonNegativeStateAttribute");

        /// <summary>
        /// A type declared in several partial parts is parsed once: by the part that holds its first [Optimizer],
        /// so that its diagnostics are reported once and its source is added once.
        /// </summary>
        private static bool IsPrimaryDeclaration(INamedTypeSymbol type, TypeDeclarationSyntax declaration)
        {
            foreach (AttributeData attribute in type.GetAttributes())
            {
                if (attribute.AttributeClass?.ToDisplayString() == OptimizerAttribute)
                {
                    SyntaxReference? reference = attribute.ApplicationSyntaxReference;
                    return reference is null
                        || (reference.SyntaxTree == declaration.SyntaxTree && declaration.AttributeLists.Any(l => l.Span.Contains(reference.Span)));
                }
            }

            return true;
        }

        /// <summary>Checks of the declaration that <c>CheckDeclaration</c> does not make: <c>file</c>, a primary constructor and a constructor clash.</summary>
        private static void CheckDeclarationExtras(INamedTypeSymbol type, TypeDeclarationSyntax declaration, List<DiagnosticInfo> diagnostics)
        {
            for (SyntaxNode? node = declaration; node is TypeDeclarationSyntax t; node = node.Parent)
            {
                SyntaxToken file = t.Modifiers.FirstOrDefault(m => m.IsKind(SyntaxKind.FileKeyword));
                if (file.IsKind(SyntaxKind.FileKeyword))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.FileLocal, file.GetLocation(), t.Identifier.ValueText));
                }
            }

            // A primary constructor (on any part) would make every generated constructor chain to it (CS8862).
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax() is TypeDeclarationSyntax { ParameterList: { } parameters })
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.PrimaryConstructor, parameters.GetLocation(), type.Name));
                }
            }

            foreach (IMethodSymbol constructor in type.InstanceConstructors)
            {
                if (constructor.IsImplicitlyDeclared || constructor.Parameters.Length != 1 || constructor.MethodKind != MethodKind.Constructor)
                {
                    continue;
                }

                // OptGen generates X(int length) and X(OptGen.ParameterLayout layout).
                ITypeSymbol parameter = constructor.Parameters[0].Type;
                string? generated = parameter.SpecialType == SpecialType.System_Int32 ? "int"
                    : parameter.ToDisplayString() == "OptGen.ParameterLayout" ? "ParameterLayout"
                    : null;
                if (generated is not null && !constructor.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is TypeDeclarationSyntax))
                {
                    Location? where = constructor.Locations.FirstOrDefault(l => l.IsInSource);
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameCollision, where, $"{type.Name}({generated})", type.Name,
                        $" (OptGen generates the constructor {type.Name}({generated} {(generated == "int" ? "length" : "layout")}); remove yours or change its parameters)"));
                }
            }
        }

        /// <summary>
        /// Checks every OptGen attribute on the type: no duplicates, arguments the compiler could bind, defined enum
        /// values. Returns false when some attribute cannot be read, so the rule is not read from guessed values.
        /// </summary>
        private static bool CheckAttributes(INamedTypeSymbol type, SemanticModel model, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
        {
            bool readable = true;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (AttributeData attribute in type.GetAttributes())
            {
                string? fullName = attribute.AttributeClass?.ToDisplayString();
                if (fullName is null || !fullName.StartsWith(Namespace, StringComparison.Ordinal) || attribute.AttributeClass!.TypeKind == TypeKind.Error)
                {
                    continue;
                }

                string shortName = ShortName(attribute.AttributeClass!);
                AttributeSyntax? syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
                if (!seen.Add(fullName) && !ExpressionRules.IsRepeatable(attribute) && !StateStorage.StateStorageRules.IsRepeatable(fullName))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateAttribute, syntax?.GetLocation(), shortName, type.Name));
                }

                string? problem = ArgumentProblem(attribute, syntax)
                    ?? (syntax is null ? null : ConversionProblem(syntax, syntax.SyntaxTree == model.SyntaxTree ? model : model.Compilation.GetSemanticModel(syntax.SyntaxTree), cancellationToken));
                if (problem is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidAttributeArguments, syntax?.GetLocation(), shortName, type.Name, problem));
                    readable = false;
                    continue;
                }

                CheckEnumValues(attribute, shortName, diagnostics);
            }

            return readable;
        }

        /// <summary>Why the compiler could not bind the attribute's arguments, or null when it could.</summary>
        private static string? ArgumentProblem(AttributeData attribute, AttributeSyntax? syntax)
        {
            if (syntax is not null && syntax.ContainsDiagnostics)
            {
                return "it has a syntax error";
            }

            if (attribute.AttributeConstructor is null)
            {
                return "no constructor takes these arguments";
            }

            if (attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error)
                || attribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error))
            {
                return "an argument has the wrong type or is not a constant";
            }

            // A conversion the compiler rejected (e.g. a MomentInput given for an EpsilonPlacement) keeps the source type.
            IMethodSymbol constructor = attribute.AttributeConstructor;
            for (int i = 0; i < attribute.ConstructorArguments.Length && i < constructor.Parameters.Length; i++)
            {
                if (!HasType(attribute.ConstructorArguments[i], constructor.Parameters[i].Type))
                {
                    return $"argument {i + 1} is not a {constructor.Parameters[i].Type.Name}";
                }
            }

            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                ITypeSymbol? expected = attribute.AttributeClass?.GetMembers(named.Key).OfType<IPropertySymbol>().FirstOrDefault()?.Type;
                if (expected is not null && !HasType(named.Value, expected))
                {
                    return $"{named.Key} is not a {expected.Name}";
                }
            }

            if (attribute.NamedArguments.Select(a => a.Key).Distinct(StringComparer.Ordinal).Count() != attribute.NamedArguments.Length)
            {
                return "a named argument is given twice";
            }

            int namedInSyntax = syntax?.ArgumentList?.Arguments.Count(a => a.NameEquals is not null) ?? 0;
            if (syntax is not null && namedInSyntax != attribute.NamedArguments.Length)
            {
                return "a named argument is unknown or given twice";
            }

            return null;
        }

        /// <summary>
        /// An argument the compiler could not convert to its parameter's type (e.g. a MomentInput given for an
        /// EpsilonPlacement): AttributeData still reports it as converted, so ask the semantic model.
        /// </summary>
        private static string? ConversionProblem(AttributeSyntax syntax, SemanticModel model, CancellationToken cancellationToken)
        {
            foreach (AttributeArgumentSyntax argument in syntax.ArgumentList?.Arguments ?? default)
            {
                Conversion conversion = model.GetConversion(argument.Expression, cancellationToken);
                TypeInfo info = model.GetTypeInfo(argument.Expression, cancellationToken);
                if (!conversion.Exists || (!conversion.IsImplicit && info.Type is not null && !SymbolEqualityComparer.Default.Equals(info.Type, info.ConvertedType)))
                {
                    return $"'{argument.Expression}' does not convert to {info.ConvertedType?.Name ?? "the argument's type"}";
                }
            }

            return null;
        }

        private static bool HasType(TypedConstant constant, ITypeSymbol expected) =>
            constant.Type is null || constant.IsNull || SymbolEqualityComparer.Default.Equals(constant.Type, expected);

        /// <summary>An enum argument must be a defined member: a cast such as <c>(BiasCorrectionMode)7</c> is rejected.</summary>
        private static void CheckEnumValues(AttributeData attribute, string shortName, List<DiagnosticInfo> diagnostics)
        {
            for (int i = 0; i < attribute.ConstructorArguments.Length; i++)
            {
                IParameterSymbol? parameter = attribute.AttributeConstructor?.Parameters.ElementAtOrDefault(i);
                CheckEnumValue(attribute.ConstructorArguments[i], $"[{shortName}] {parameter?.Name ?? "argument"}", ArgumentLocation(attribute, i), diagnostics);
            }

            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
            {
                CheckEnumValue(named.Value, $"[{shortName}] {named.Key}", ArgumentLocation(attribute, named.Key), diagnostics);
            }
        }

        private static void CheckEnumValue(TypedConstant constant, string what, Location? location, List<DiagnosticInfo> diagnostics)
        {
            if (constant.Kind != TypedConstantKind.Enum || constant.Type is not INamedTypeSymbol enumType || constant.Value is null)
            {
                return;
            }

            List<IFieldSymbol> members = enumType.GetMembers().OfType<IFieldSymbol>().Where(f => f.HasConstantValue).ToList();
            if (members.Any(f => Equals(f.ConstantValue, constant.Value)))
            {
                return;
            }

            string allowed = "one of " + string.Join(", ", members.Select(f => enumType.Name + "." + f.Name));
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OutOfRange, location, what, allowed, constant.Value.ToString()));
        }

        /// <summary>
        /// The generated members must not clash with each other, with the class's own name, or with what the class
        /// inherits from OptGen.Optimizer and System.Object; the user-chosen <c>[SecondMoment(Name = …)]</c> is the
        /// usual cause, so the diagnostic sits on that argument when it is.
        /// </summary>
        private static void CheckGeneratedNames(INamedTypeSymbol type, Compilation compilation, OptimizerSpec spec, Location location, List<DiagnosticInfo> diagnostics)
        {
            var inherited = new HashSet<string>(StringComparer.Ordinal);
            // Abstract and virtual members (RunKernel, AdvanceHostState) are the ones the generated code overrides.
            // A rule with reductions derives from OptGen.ReductionOptimizer, which adds members of its own (Passes, …).
            for (INamedTypeSymbol? t = compilation.GetTypeByMetadataName(HasReductions(spec) ? "OptGen.ReductionOptimizer" : "OptGen.Optimizer"); t is not null; t = t.BaseType)
            {
                foreach (ISymbol member in t.GetMembers())
                {
                    if (member.DeclaredAccessibility is not Accessibility.Private && !member.IsImplicitlyDeclared && !member.IsAbstract && !member.IsVirtual && !member.IsOverride && member.CanBeReferencedByName)
                    {
                        inherited.Add(member.Name);
                    }
                }
            }

            inherited.UnionWith(new[] { "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "ReferenceEquals", "Finalize" });

            Location? nameLocation = null;
            foreach (AttributeData attribute in type.GetAttributes())
            {
                if (attribute.AttributeClass?.ToDisplayString() == Namespace + "SecondMomentAttribute"
                    && attribute.NamedArguments.Any(a => a.Key == "Name"))
                {
                    nameLocation = ArgumentLocation(attribute, "Name");
                    break;
                }
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            var reported = new HashSet<string>(StringComparer.Ordinal);
            foreach (string name in AttributeRules.AttributeLowering.GeneratedMemberNames(spec))
            {
                string? clash = name == type.Name ? $"the class '{type.Name}' itself"
                    : inherited.Contains(name) ? $"the member {(HasReductions(spec) ? "OptGen.ReductionOptimizer" : "OptGen.Optimizer")}.{name} that '{type.Name}' inherits"
                    : !seen.Add(name) ? "another member OptGen generates for this rule"
                    : null;
                if (clash is null || !reported.Add(name))
                {
                    continue;
                }

                bool userChosen = spec.SecondMoment is { } second && second.PropertyName == name && nameLocation is not null;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameTaken, userChosen ? nameLocation : location, name, clash));
            }

            // The generated CreateKernel reads each hyperparameter into a camelCase local beside its own parameters
            // (hyperparameters, step, t, …): a chosen name equal to one of those, or to another hyperparameter's ignoring
            // case, would not compile there.
            if (nameLocation is not null && spec.SecondMoment is { PropertyName: { } chosen } && !reported.Contains(chosen))
            {
                string? clash = ExpressionRules.IsReserved(chosen) ? "a parameter, local or member of the generated code (names are compared ignoring case)"
                    : AttributeRules.AttributeLowering.GeneratedMemberNames(spec).Any(n => n != chosen && string.Equals(n, chosen, StringComparison.OrdinalIgnoreCase))
                        ? "another member OptGen generates for this rule, ignoring case (the generated code reads each hyperparameter into a camelCase local)"
                        : null;
                if (clash is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameTaken, nameLocation, chosen, clash));
                }
            }
        }

        /// <summary>Combinations the lowering cannot express, found by the fuzz test: each would generate code that does not compile.</summary>
        private static void CheckRuleCombinations(INamedTypeSymbol type, OptimizerSpec spec, List<DiagnosticInfo> diagnostics)
        {
            AttributeData? Find(string name) => type.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == Namespace + name);

            if (spec.SecondMoment is { Kind: SecondMomentKind.InfinityNorm } && spec.Epsilon is null && Find("SecondMomentAttribute") is { } sm)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InfinityNormNeedsEpsilon, ArgumentLocation(sm, "Kind")));
            }

            if (spec.Epsilon is { BeforeBiasCorrection: true } && spec.SecondMoment is { Kind: not SecondMomentKind.ExponentialAverage } && Find("EpsilonAttribute") is { } eps)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BeforeBiasCorrectionNeeds, ArgumentLocation(eps, "BeforeBiasCorrection"), "an exponential-average second moment"));
            }
        }

        /// <summary>For a type that carries a rule attribute but no [Optimizer]: one warning per such attribute on this declaration.</summary>
        public static EquatableArray<DiagnosticInfo> CheckRuleWithoutOptimizer(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not INamedTypeSymbol type
                || type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == OptimizerAttribute))
            {
                return EquatableArray<DiagnosticInfo>.Empty;
            }

            var diagnostics = new List<DiagnosticInfo>();
            foreach (AttributeData attribute in context.Attributes)
            {
                if (attribute.AttributeClass is { } attributeClass)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.RuleWithoutOptimizer,
                        attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken).GetLocation(), ShortName(attributeClass), type.Name));
                }
            }

            return diagnostics.ToEquatableArray();
        }

        /// <summary>A length N ≥ 1, finite, whose β = 1 − 1/N is still below 1 in double precision.</summary>
        private static bool IsUsableLength(double length) => length >= 1 && !double.IsInfinity(length) && 1 - (1 / length) < 1;

        private static bool HasErrors(List<DiagnosticInfo> diagnostics) =>
            diagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error);

        private static string ShortName(INamedTypeSymbol attributeClass) =>
            attributeClass.Name.EndsWith("Attribute", StringComparison.Ordinal)
                ? attributeClass.Name.Substring(0, attributeClass.Name.Length - "Attribute".Length)
                : attributeClass.Name;

        /// <summary>
        /// An identifier as generated code must write it: keywords, contextual keywords and all-lowercase ASCII names
        /// get an <c>@</c>. Unescaped, a class <c>@file</c> or <c>@required</c> reads as a modifier (syntax errors),
        /// <c>@record</c> and <c>@scoped</c> are CS8860/CS9062, and <c>@var</c> or <c>foo</c> is warning CS8981 in the
        /// generated file (an error under TreatWarningsAsErrors); <c>@</c> never changes which name is meant.
        /// </summary>
        private static string Escape(string identifier) =>
            SyntaxFacts.GetKeywordKind(identifier) != SyntaxKind.None
            || SyntaxFacts.GetContextualKeywordKind(identifier) != SyntaxKind.None
            || identifier.All(c => c >= 'a' && c <= 'z')
                ? "@" + identifier
                : identifier;

        /// <summary>A namespace as it must be written in C#, each keyword part escaped (<c>Demo.@event</c>).</summary>
        private static string EscapedNamespace(INamespaceSymbol ns) =>
            ns.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", string.Empty);

        /// <summary>
        /// A file name for the type that no other type shares: nested types are joined with '+' (as in metadata
        /// names), so that namespace <c>A</c>'s <c>B</c> and class <c>A</c>'s nested <c>B</c> do not collide.
        /// </summary>
        private static string HintNameOf(INamedTypeSymbol type)
        {
            var parts = new List<string>();
            for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
            {
                parts.Insert(0, t.Name);
            }

            string ns = type.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : string.Empty;

            // A hint name may not contain '@' (the display string escapes keywords such as @event).
            return (ns + string.Join("+", parts)).Replace("@", string.Empty);
        }
    }
}
