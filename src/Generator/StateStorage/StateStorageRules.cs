using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using OptGen.Generator.AttributeRules;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.StateStorage
{
    /// <summary>
    /// [DefaultStatePrecision] and [NonNegativeState], for rules of either kind: read at parse time (their arguments
    /// are checked with every other attribute's), checked against the lowered rule
    /// (an override that names no state, or one state twice, is OPTG0200), and applied by the emitter: the
    /// descriptor's <c>IsNonNegative</c> and the constructors' <c>ChangeStatePrecision</c>.
    /// </summary>
    internal static class StateStorageRules
    {
        private const string PrecisionAttribute = Parser.Namespace + "DefaultStatePrecisionAttribute";
        private const string SignAttribute = Parser.Namespace + "NonNegativeStateAttribute";

        /// <summary>The runtime's StatePrecision members, by value.</summary>
        private static readonly string[] PrecisionNames = { "Float32", "BFloat16", "Int8Blockwise", "Int4Blockwise" };

        /// <summary>Whether <paramref name="fullName"/> is one of the storage attributes (allowed on rules of either kind).</summary>
        public static bool IsStorageAttribute(string fullName) => fullName == PrecisionAttribute || fullName == SignAttribute;

        /// <summary>Whether the attribute may appear more than once: [NonNegativeState], once per state buffer.</summary>
        public static bool IsRepeatable(string fullName) => fullName == SignAttribute;

        /// <summary>
        /// Reads the declaration's storage attributes. Their arguments are checked with every other attribute's (a
        /// value outside the enum is OPTG0015, a second [DefaultStatePrecision] OPTG0018); unreadable ones are skipped here.
        /// </summary>
        public static StateStorageSpec Read(INamedTypeSymbol type)
        {
            int precision = 0;
            var overrides = new List<StateSignOverride>();
            foreach (AttributeData attribute in type.GetAttributes())
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                if (name == PrecisionAttribute && attribute.ConstructorArguments.Length == 1
                    && attribute.ConstructorArguments[0].Value is int number && number > 0 && number < PrecisionNames.Length)
                {
                    precision = number;
                }
                else if (name == SignAttribute && attribute.ConstructorArguments.Length == 2
                    && attribute.ConstructorArguments[0].Kind == TypedConstantKind.Primitive && attribute.ConstructorArguments[1].Value is bool nonNegative)
                {
                    // A null name is kept as "": it names no state, so Check reports it (it was skipped without a word).
                    string state = attribute.ConstructorArguments[0].Value as string ?? string.Empty;
                    overrides.Add(new StateSignOverride(state, nonNegative, LocationInfo.From(ArgumentLocation(attribute, 0))));
                }
            }

            return new StateStorageSpec(precision, overrides.ToEquatableArray());
        }

        /// <summary>
        /// OPTG0200 for every override that names no state of the lowered rule, or a state already overridden. (Any
        /// precision applies to any rule: a rule with compact state keeps that state in float32 in blockwise state.)
        /// </summary>
        public static IEnumerable<DiagnosticInfo> Check(OptimizerModel model)
        {
            var seen = new HashSet<string>();
            foreach (StateSignOverride o in model.Storage.Overrides)
            {
                StateDecl? state = Find(model.Program, o.State);
                if (state is null)
                {
                    string known = string.Join(", ", model.Program.States.Select(s => $"{s.Symbol} ({s.Name})"));
                    yield return new DiagnosticInfo(DiagnosticDescriptors.InvalidStateOverride, o.Location,
                        new[] { o.State, model.Program.States.Count == 0 ? "the rule has no state buffers" : "its state buffers are " + known }.ToEquatableArray());
                }
                else if (!seen.Add(state.Symbol))
                {
                    yield return new DiagnosticInfo(DiagnosticDescriptors.InvalidStateOverride, o.Location,
                        new[] { o.State, "that buffer is already overridden; keep one [NonNegativeState] per buffer" }.ToEquatableArray());
                }
            }
        }

        /// <summary>The symbols of the buffers stored as never negative: the proof (<see cref="Ir.StateSigns"/>), then the overrides.</summary>
        public static HashSet<string> NonNegative(OptimizerModel model)
        {
            HashSet<string> result = Ir.StateSigns.NonNegative(model.Program);
            foreach (StateSignOverride o in model.Storage.Overrides)
            {
                if (Find(model.Program, o.State) is StateDecl state)
                {
                    if (o.NonNegative)
                    {
                        result.Add(state.Symbol);
                    }
                    else
                    {
                        result.Remove(state.Symbol);
                    }
                }
            }

            return result;
        }

        /// <summary>The StatePrecision member the constructors start with, or null for float32.</summary>
        public static string? InitialPrecision(OptimizerModel model) =>
            model.Storage.Precision > 0 && model.Storage.Precision < PrecisionNames.Length ? PrecisionNames[model.Storage.Precision] : null;

        private static StateDecl? Find(UpdateProgram program, string name) =>
            program.States.FirstOrDefault(s => s.Symbol == name) ?? program.States.FirstOrDefault(s => s.Name == name);

        private static Location? ArgumentLocation(AttributeData attribute, int position) =>
            Parser.ConstructorArgument(attribute, position)?.GetLocation()
            ?? (attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax ? syntax.GetLocation() : null);
    }
}
