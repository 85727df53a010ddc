using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// The checks of what the user's own part of an optimizer class declares against the generated part: members it
    /// declares (OPTG0013), members of the base class it gives the class and calls by name (OPTG0136), and types whose
    /// names hide the namespaces generated code names (OPTG0137). Shared by both front ends.
    /// </summary>
    internal static partial class Parser
    {
        private const string GpuKernelSource = "OptGen.Gpu.IGpuKernelSource";

        /// <summary>
        /// Every member the user declares in <paramref name="type"/>: one named like a member the generated part
        /// declares (<paramref name="generated"/>, or the reduction tables and pass overrides when
        /// <paramref name="reductions"/>) is OPTG0013; one that hides a member of the generated base class, or is named
        /// like one that generated code calls by name, is OPTG0136. Each is reported at the user's member.
        /// </summary>
        internal static void CheckUserMembers(INamedTypeSymbol type, Compilation compilation, IEnumerable<string> generated, bool reductions, Location fallback, List<DiagnosticInfo> diagnostics)
        {
            var declared = new HashSet<string>(generated, StringComparer.Ordinal);
            declared.UnionWith(GeneratedMembers.EveryOptimizer);
            if (reductions)
            {
                declared.UnionWith(GeneratedMembers.ReductionOptimizer);
            }

            string baseName = reductions ? "OptGen.ReductionOptimizer" : "OptGen.Optimizer";
            List<ISymbol> inherited = InheritedMembers(compilation.GetTypeByMetadataName(baseName), compilation);
            foreach (ISymbol member in type.GetMembers())
            {
                if (member.IsImplicitlyDeclared || IsAccessorOrSpecial(member))
                {
                    continue;
                }

                Location where = member.Locations.FirstOrDefault(l => l.IsInSource) ?? fallback;
                if (member is IMethodSymbol { ExplicitInterfaceImplementations: { Length: > 0 } implemented }
                    && implemented.Any(m => m.ContainingType.ToDisplayString() == GpuKernelSource))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameCollision, where, "IGpuKernelSource.CreateGpuUpdate", type.Name,
                        " (OptGen implements OptGen.Gpu.IGpuKernelSource for the class; remove your implementation)"));
                    continue;
                }

                if (declared.Contains(member.Name))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameCollision, where, member.Name, type.Name,
                        member.Name == "Beta2" ? " (or give [SecondMoment] another Name)" : string.Empty));
                    continue;
                }

                if (member.IsOverride)
                {
                    continue;
                }

                if (Array.IndexOf(GeneratedMembers.CalledByName, member.Name) >= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HidesInheritedMember, where, member.Name, type.Name, baseName,
                        " (generated code calls the inherited one by this name and would reach yours instead)"));
                    continue;
                }

                ISymbol? hidden = inherited.FirstOrDefault(b => b.Name == member.Name && Hides(member, b));
                if (hidden is not null && !HasNewModifier(member))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HidesInheritedMember, where, member.Name, type.Name, hidden.ContainingType.ToDisplayString(),
                        string.Empty));
                }
            }
        }

        /// <summary>
        /// A type declared in source with the full name of a namespace that generated code names with <c>global::</c>
        /// (a class <c>System</c> in the global namespace, <c>OptGen.Gpu</c>, …) hides that namespace in every generated
        /// file. Reported on the optimizer's own declaration when it is that type, else at the optimizer's name.
        /// </summary>
        private static void CheckNamespaceShadowing(INamedTypeSymbol type, Compilation compilation, Location location, List<DiagnosticInfo> diagnostics)
        {
            foreach (string name in GeneratedMembers.Namespaces)
            {
                INamespaceSymbol? container = compilation.GlobalNamespace;
                string[] parts = name.Split('.');
                for (int i = 0; i < parts.Length - 1 && container is not null; i++)
                {
                    container = container.GetNamespaceMembers().FirstOrDefault(n => n.Name == parts[i]);
                }

                INamedTypeSymbol? shadow = container?.GetTypeMembers(parts[parts.Length - 1]).FirstOrDefault(t => t.Locations.Any(l => l.IsInSource));
                if (shadow is null)
                {
                    continue;
                }

                bool own = false;
                for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
                {
                    own |= SymbolEqualityComparer.Default.Equals(t, shadow);
                }

                Location where = own ? shadow.Locations.First(l => l.IsInSource) : location;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TypeHidesNamespace, where, name, type.Name));
            }
        }

        /// <summary>Every part of the class must be partial: a plain part (CS0260) is reported at its name.</summary>
        private static void CheckOtherPartsArePartial(INamedTypeSymbol type, TypeDeclarationSyntax declaration, List<DiagnosticInfo> diagnostics)
        {
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax() is TypeDeclarationSyntax part && part != declaration && !part.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, part.Identifier.GetLocation(), type.Name));
                }
            }
        }

        /// <summary>The members of <paramref name="baseType"/> and its bases (System.Object's aside) that a class deriving from it sees.</summary>
        private static List<ISymbol> InheritedMembers(INamedTypeSymbol? baseType, Compilation compilation)
        {
            var members = new List<ISymbol>();
            for (INamedTypeSymbol? t = baseType; t is not null && t.SpecialType != SpecialType.System_Object; t = t.BaseType)
            {
                foreach (ISymbol member in t.GetMembers())
                {
                    bool visible = member.DeclaredAccessibility is Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal
                        || (member.DeclaredAccessibility is Accessibility.Internal or Accessibility.ProtectedAndInternal
                            && SymbolEqualityComparer.Default.Equals(member.ContainingAssembly, compilation.Assembly));
                    if (visible && (member.CanBeReferencedByName || member is IPropertySymbol { IsIndexer: true }) && !IsAccessorOrSpecial(member))
                    {
                        members.Add(member);
                    }
                }
            }

            return members;
        }

        // Indexers are members like any other here: this[string] hides Optimizer's indexer (CS0108 in the user's part).
        private static bool IsAccessorOrSpecial(ISymbol member) =>
            member is IMethodSymbol { MethodKind: not (MethodKind.Ordinary or MethodKind.ExplicitInterfaceImplementation) };

        /// <summary>
        /// Whether <paramref name="member"/> hides <paramref name="inherited"/> (C#'s rule behind CS0108): any other
        /// member hides by name; a method hides a method of the same signature, an indexer an indexer of the same
        /// parameter types (both are named <c>this[]</c>).
        /// </summary>
        private static bool Hides(ISymbol member, ISymbol inherited)
        {
            if (member is IPropertySymbol { IsIndexer: true } indexer && inherited is IPropertySymbol { IsIndexer: true } baseIndexer)
            {
                return SameParameters(indexer.Parameters, baseIndexer.Parameters);
            }

            if (member is not IMethodSymbol method || inherited is not IMethodSymbol baseMethod)
            {
                return true;
            }

            return method.TypeParameters.Length == baseMethod.TypeParameters.Length && SameParameters(method.Parameters, baseMethod.Parameters);
        }

        private static bool SameParameters(System.Collections.Immutable.ImmutableArray<IParameterSymbol> parameters, System.Collections.Immutable.ImmutableArray<IParameterSymbol> baseParameters)
        {
            if (parameters.Length != baseParameters.Length)
            {
                return false;
            }

            for (int i = 0; i < parameters.Length; i++)
            {
                IParameterSymbol a = parameters[i];
                IParameterSymbol b = baseParameters[i];
                bool sameType = a.Type is ITypeParameterSymbol { TypeParameterKind: TypeParameterKind.Method } ta && b.Type is ITypeParameterSymbol { TypeParameterKind: TypeParameterKind.Method } tb
                    ? ta.Ordinal == tb.Ordinal
                    : SymbolEqualityComparer.Default.Equals(a.Type, b.Type);
                if (!sameType || (a.RefKind == RefKind.None) != (b.RefKind == RefKind.None))
                {
                    return false;
                }
            }

            return true;
        }

        private static bool HasNewModifier(ISymbol member) =>
            member.DeclaringSyntaxReferences.Any(r => r.GetSyntax() switch
            {
                MemberDeclarationSyntax m => m.Modifiers.Any(SyntaxKind.NewKeyword),
                VariableDeclaratorSyntax { Parent.Parent: BaseFieldDeclarationSyntax f } => f.Modifiers.Any(SyntaxKind.NewKeyword),
                _ => false,
            });
    }
}
