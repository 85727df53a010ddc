using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// An expression rule, checked and bound: hyperparameters, states, step scalars (host IR over t, hyperparameters
    /// and earlier step scalars) and element statements (IR over p, g, states, locals, hyperparameters, step scalars
    /// and t). Data only, so it can travel through the incremental pipeline.
    /// </summary>
    /// <param name="Source">The declared statements as written, one line each, for the documentation.</param>
    internal sealed record ExpressionRuleSpec(
        TypeDeclarationInfo Type,
        string RuleName,
        EquatableArray<HyperparameterDecl> Hyperparameters,
        EquatableArray<StateDecl> States,
        EquatableArray<HostStatement> StepScalars,
        EquatableArray<ElementStatement> Body,
        EquatableArray<string> Source)
    {
        /// <summary>The rule's tensor reductions; their operand statements are in <see cref="Body"/> (<see cref="Ir.ReductionDecl"/>).</summary>
        public EquatableArray<Ir.ReductionDecl> Reductions { get; init; } = EquatableArray<Ir.ReductionDecl>.Empty;
    }

    /// <summary>
    /// Phase 1 for expression rules: reads [Hyperparameter], [State], [StepScalar] and [Update] on an [Optimizer]
    /// class, parses every string with <see cref="ExpressionParser"/>, resolves names and types, and reports every
    /// mistake at its column inside the string literal. Never throws on user input.
    /// </summary>
    internal static partial class ExpressionRules
    {
        internal const string StateAttribute = "StateAttribute";
        internal const string HyperparameterAttribute = "HyperparameterAttribute";
        internal const string StepScalarAttribute = "StepScalarAttribute";
        internal const string UpdateAttribute = "UpdateAttribute";

        /// <summary>The step's batch size in the expression language (the lecture's B), unless the rule declares a name B itself.</summary>
        internal const string BatchSizeSymbol = "B";

        // Names the generated code already uses (compared ignoring case): the language's own names, the host
        // method's parameters and locals, the kernel's members and the Step methods' locals.
        private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        {
            "p", "g", "t", "let", "step", "hyperparameters", "gradientScale", "kernel", "Invoke", "Step", "Step128", "Step256", "Step512",
            "StateCount", "BytesRead", "BytesWritten", "parameters", "gradients", "state", "stride", "i",
            "RandomKey", "ElementOffset", // the fields (and CreateKernel's parameter) of a kernel that calls randn()
            "TParameter", "TGradient", "TState", // the Step methods' type parameters, which a state's local there would hide
            "index", // the GPU kernel's thread index, beside a parameter per state
            "batchSize", // CreateKernel's batch-size parameter (B), and the inherited Optimizer.BatchSize
            "gsq", "InputOffset", // the per-example squares beside g (Ir.ElementInputs) and the kernel field that locates them
            "hostState", // the parameter of CreateKernel and AdvanceHostState that holds a rule's host state
            "Segments", // the kernel method that updates compact states between the passes of a scoped rule
        };

        /// <summary>
        /// Whether the generated code uses <paramref name="name"/> itself (compared ignoring case): a parameter or local
        /// of its methods, a member of the kernel, a member the generated class declares, or one of System.Object's.
        /// </summary>
        internal static bool IsReserved(string name) =>
            Reserved.Contains(name)
            || GeneratedMembers.EveryOptimizer.Contains(name, StringComparer.OrdinalIgnoreCase)
            || GeneratedMembers.ReductionOptimizer.Contains(name, StringComparer.OrdinalIgnoreCase)
            || GeneratedMembers.ObjectMembers.Contains(name, StringComparer.OrdinalIgnoreCase);

        /// <summary>Whether the class declares its rule with expression attributes.</summary>
        public static bool IsExpressionRule(INamedTypeSymbol type) => type.GetAttributes().Any(a => KindOf(a) is not null);

        /// <summary>Whether the attribute may appear any number of times: every expression attribute ([Update], [State], …) may.</summary>
        public static bool IsRepeatable(AttributeData attribute) => KindOf(attribute) is not null;

        private static string? KindOf(AttributeData attribute)
        {
            string? name = attribute.AttributeClass?.ToDisplayString();
            return name switch
            {
                Parser.Namespace + StateAttribute => StateAttribute,
                Parser.Namespace + HyperparameterAttribute => HyperparameterAttribute,
                Parser.Namespace + StepScalarAttribute => StepScalarAttribute,
                Parser.Namespace + UpdateAttribute => UpdateAttribute,
                _ => null,
            };
        }

        public static ExpressionRuleSpec? Read(INamedTypeSymbol type, Location nameLocation, Compilation compilation, List<DiagnosticInfo> diagnostics)
        {
            int before = diagnostics.Count;
            var attributes = type.GetAttributes();
            string ruleName = Parser.FullName(type);
            foreach (AttributeData attribute in attributes)
            {
                string? name = attribute.AttributeClass?.ToDisplayString();
                if (name is null || !name.StartsWith(Parser.Namespace, StringComparison.Ordinal) || KindOf(attribute) is not null || StateStorage.StateStorageRules.IsStorageAttribute(name))
                {
                    continue;
                }

                if (name == Parser.OptimizerAttribute)
                {
                    foreach (KeyValuePair<string, TypedConstant> pair in attribute.NamedArguments)
                    {
                        if (pair.Key == "Name" && pair.Value.Value is string ruleText)
                        {
                            ruleName = ruleText;
                        }
                    }

                    continue;
                }

                string shortName = name.Substring(Parser.Namespace.Length);
                shortName = shortName.EndsWith("Attribute", StringComparison.Ordinal) ? shortName.Substring(0, shortName.Length - "Attribute".Length) : shortName;
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MixedRule, SyntaxLocation(attribute) ?? nameLocation, shortName));
            }

            var scope = new Scope();
            var hyperparameters = new List<HyperparameterDecl>();
            var states = new List<StateDecl>();
            var memberNames = new Dictionary<string, Location?>(StringComparer.Ordinal);
            var declarations = new Dictionary<string, Location?>(StringComparer.Ordinal); // hyperparameters, states and step scalars, by symbol

            // Declarations first, so statements may name any of them.
            foreach (AttributeData attribute in attributes)
            {
                string? kind = KindOf(attribute);
                if (kind == HyperparameterAttribute)
                {
                    StringArgument name = StringArgument.Of(attribute, 0);
                    if (!Declare(scope, name, "hyperparameter", diagnostics))
                    {
                        continue;
                    }

                    double value = attribute.ConstructorArguments.Length > 1 && attribute.ConstructorArguments[1].Value is double d ? d : double.NaN;
                    int range = 0;
                    foreach (KeyValuePair<string, TypedConstant> pair in attribute.NamedArguments)
                    {
                        if (pair.Key == "Range" && pair.Value.Value is int r)
                        {
                            range = r;
                        }
                    }

                    HyperparameterRange rangeName = Enum.IsDefined(typeof(HyperparameterRange), range) ? (HyperparameterRange)range : HyperparameterRange.Finite;
                    if (!HyperparameterRanges.InRange(rangeName, value))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDefault, PositionalLocation(attribute, 1) ?? nameLocation,
                            name.Value, HyperparameterRanges.Text(rangeName), Parser.Format(value)));
                    }
                    else if (HyperparameterRanges.Float32Problem(value, zeroAllowed: rangeName != HyperparameterRange.Positive) is string float32)
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotFloat32, PositionalLocation(attribute, 1) ?? nameLocation,
                            $"The default of the hyperparameter '{name.Value}'", Parser.Format(value), float32));
                    }

                    scope.Hyperparameters.Add(name.Value!);
                    declarations[name.Value!] = name.Location();
                    AddMember(memberNames, name.Value!, name.Location(), diagnostics);
                    hyperparameters.Add(new HyperparameterDecl(name.Value!, name.Value!, value, rangeName, rangeName == HyperparameterRange.Boolean,
                        $"The hyperparameter {name.Value} of the expression rule."));
                }
                else if (kind == StateAttribute)
                {
                    StringArgument symbol = StringArgument.Of(attribute, 0);
                    if (!Declare(scope, symbol, "state", diagnostics))
                    {
                        continue;
                    }

                    scope.States.Add(symbol.Value!);
                    string property = Ir.PostPass.Pascal(symbol.Value!);
                    Location? propertyLocation = symbol.Location();
                    foreach (KeyValuePair<string, TypedConstant> pair in attribute.NamedArguments)
                    {
                        if (pair.Key == "Name" && pair.Value.Value is string named)
                        {
                            property = named;
                            propertyLocation = NamedLocation(attribute, "Name") ?? propertyLocation;
                        }
                    }

                    if (!SyntaxFacts.IsValidIdentifier(property) || SyntaxFacts.GetKeywordKind(property) != SyntaxKind.None || property.All(c => c == '_'))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, propertyLocation, property, "is not a valid C# identifier for the state's property"));
                        continue;
                    }

                    if (GeneratedMembers.EveryOptimizer.Contains(property) || GeneratedMembers.ReductionOptimizer.Contains(property))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, propertyLocation, property, "is the name of a member OptGen generates in the optimizer class; choose another name for the state's property"));
                        continue;
                    }

                    AddMember(memberNames, property, propertyLocation, diagnostics);
                    states.Add(new StateDecl(property, symbol.Value!, string.Empty, $"The state {symbol.Value} of the expression rule."));
                    declarations[symbol.Value!] = symbol.Location();
                }
                else if (kind == StepScalarAttribute)
                {
                    StringArgument name = StringArgument.Of(attribute, 0);
                    if (Declare(scope, name, "step scalar", diagnostics))
                    {
                        scope.AllStepScalars.Add(name.Value!);
                        declarations[name.Value!] = name.Location();
                    }
                }
                else if (kind == UpdateAttribute)
                {
                    // Collect every 'let' name up front, to tell "read before its let" from "not declared".
                    StringArgument statement = StringArgument.Of(attribute, 0);
                    if (statement.Value is not null && ExpressionParser.ParseStatement(statement.Value, out _) is { IsLet: true } parsed)
                    {
                        scope.AllLocals.Add(parsed.Target);
                    }
                    else if (statement.Value is not null && FailedLetTarget(statement.Value) is string target)
                    {
                        // A 'let' with a syntax error is reported once; its uses are not reported again as undeclared.
                        Reject(scope, target);
                    }
                }
            }

            // Step scalars, in order, on the host.
            var stepScalars = new List<HostStatement>();
            var source = new List<string>();
            foreach (AttributeData attribute in attributes.Where(a => KindOf(a) == StepScalarAttribute))
            {
                StringArgument name = StringArgument.Of(attribute, 0);
                if (name.Value is null || !scope.AllStepScalars.Contains(name.Value) || scope.StepScalars.Contains(name.Value))
                {
                    continue;
                }

                StringArgument text = StringArgument.Of(attribute, 1);
                if (text.Value is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ExpressionSyntax, text.Location() ?? nameLocation, $"[StepScalar(\"{name.Value}\")]", "The expression must be a constant string"));
                    continue;
                }

                Ast? ast = ExpressionParser.ParseExpression(text.Value, out ExpressionError? error);
                var binder = new Binder(scope, text, host: true, $"[StepScalar(\"{name.Value}\")]", diagnostics) { StepScalar = name.Value };
                if (error is not null)
                {
                    binder.Report(error.TooComplex ? DiagnosticDescriptors.ExpressionTooComplex : DiagnosticDescriptors.ExpressionSyntax, error.Start, error.Length, binder.What, error.Message);
                }
                else if (binder.BindValue(ast!) is Expr value)
                {
                    stepScalars.Add(new HostStatement(name.Value, value, false, OneLine(text.Value)));
                    source.Add($"{name.Value} = {OneLine(text.Value)}   (per step, in double)");
                }

                scope.StepScalars.Add(name.Value);
            }

            // Element statements, in order.
            var body = new List<ElementStatement>();
            bool writesP = false;
            foreach (AttributeData attribute in attributes.Where(a => KindOf(a) == UpdateAttribute))
            {
                StringArgument text = StringArgument.Of(attribute, 0);
                if (text.Value is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ExpressionSyntax, text.Location() ?? nameLocation, "[Update]", "The statement must be a constant string"));
                    continue;
                }

                AstStatement? statement = ExpressionParser.ParseStatement(text.Value, out ExpressionError? error);
                var binder = new Binder(scope, text, host: false, "[Update]", diagnostics);
                if (error is not null)
                {
                    binder.Report(error.TooComplex ? DiagnosticDescriptors.ExpressionTooComplex : DiagnosticDescriptors.ExpressionSyntax, error.Start, error.Length, binder.What, error.Message);
                    continue;
                }

                Expr? bound = binder.BindValue(statement!.Value);
                ElementStatement? element = binder.BindTarget(statement);
                if (bound is not null && element is not null)
                {
                    body.AddRange(binder.ReductionOperands(OneLine(text.Value)));
                    scope.Taint(element.Target, bound);
                    body.Add(element with { Value = bound, Comment = OneLine(text.Value) });
                    source.Add(OneLine(text.Value));
                    writesP |= element.Target == "p";
                }
            }

            // A reduction over a state computed from a reduction needs the state compact: known once the rule is bound.
            if (scope.OverStates.Count > 0 && diagnostics.Count == before)
            {
                IReadOnlyList<string> unplaced = Ir.PassPlanner.UnplacedOverStates(body, scope.Reductions, states.Select(x => x.Symbol).ToList());
                diagnostics.AddRange(scope.OverStates.Where(x => unplaced.Contains(x.Name)).Select(x => x.Diagnostic));
            }

            if (!writesP && diagnostics.Count == before)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NoParameterUpdate, nameLocation, type.Name));
            }

            CheckCollisions(type, compilation, memberNames, diagnostics, scope.Reductions.Count > 0 ? "OptGen.ReductionOptimizer" : "OptGen.Optimizer");
            if (diagnostics.Count > before)
            {
                return null;
            }

            var spec = new ExpressionRuleSpec(
                Parser.TypeInfoOf(type),
                ruleName,
                hyperparameters.ToEquatableArray(),
                states.ToEquatableArray(),
                stepScalars.ToEquatableArray(),
                body.ToEquatableArray(),
                source.ToEquatableArray())
            {
                Reductions = scope.Reductions.ToEquatableArray(),
            };

            CheckLowered(spec, type.Name, nameLocation, declarations, scope.Origins, diagnostics);
            return diagnostics.Skip(before).Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error) ? null : spec;
        }

        /// <summary>The property of a state or hyperparameter must not collide with the class's own members or OptGen.Optimizer's.</summary>
        private static void CheckCollisions(INamedTypeSymbol type, Compilation compilation, Dictionary<string, Location?> generated, List<DiagnosticInfo> diagnostics, string baseType)
        {
            var inherited = new HashSet<string>(StringComparer.Ordinal);
            for (INamedTypeSymbol? t = compilation.GetTypeByMetadataName(baseType); t is not null; t = t.BaseType)
            {
                foreach (ISymbol member in t.GetMembers())
                {
                    inherited.Add(member.Name);
                }
            }

            foreach (KeyValuePair<string, Location?> pair in generated)
            {
                if (pair.Key == type.Name)
                {
                    // C# forbids a member named like its class (CS0542).
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, pair.Value, pair.Key, $"is the name of the class '{type.Name}', which its members cannot have; rename one of them"));
                }
                else if (inherited.Contains(pair.Key))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, pair.Value, pair.Key, $"is a member of {baseType}; choose another name"));
                }
            }

            if (GeneratedMembers.EveryOptimizer.Contains(type.Name))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NameTaken, type.Locations.FirstOrDefault(l => l.IsInSource), type.Name, "a member OptGen generates for every optimizer; rename the class"));
            }

            Parser.CheckUserMembers(type, compilation, generated.Keys, baseType == "OptGen.ReductionOptimizer", type.Locations.First(l => l.IsInSource), diagnostics);
        }

        private static void AddMember(Dictionary<string, Location?> members, string name, Location? location, List<DiagnosticInfo> diagnostics)
        {
            if (members.ContainsKey(name))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, location, name, "is already the name of another generated property"));
                return;
            }

            members.Add(name, location);
        }

        /// <summary>Checks a declared name: an identifier of letters and digits, not reserved, not declared before (ignoring case).</summary>
        private static bool Declare(Scope scope, StringArgument name, string what, List<DiagnosticInfo> diagnostics)
        {
            string? problem = NameProblem(scope, name.Value);
            if (problem is null)
            {
                scope.Declared.Add(name.Value!);
                return true;
            }

            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDeclaration, name.Location(), name.Value ?? string.Empty, $"{problem} (declaring a {what})"));
            Reject(scope, name.Value);
            return false;
        }

        /// <summary>
        /// Remembers a name whose declaration was refused (and reported), so that its uses are not reported again
        /// as undeclared; p, g and t keep their meaning, and a name declared before keeps that declaration.
        /// </summary>
        private static void Reject(Scope scope, string? name)
        {
            if (name is { Length: > 0 } && name is not ("p" or "g" or "t") && !scope.Declared.Contains(name))
            {
                scope.Rejected.Add(name);
            }
        }

        private static string? NameProblem(Scope scope, string? name)
        {
            if (name is null || name.Length == 0)
            {
                return "is not a name: give a constant string of ASCII letters and digits";
            }

            if (!ExpressionParser.IsLetter(name[0]) || name.Any(c => !ExpressionParser.IsLetter(c) && !(c >= '0' && c <= '9')))
            {
                return "is not a valid name: an ASCII letter (a-z, A-Z) followed by ASCII letters and digits";
            }

            if (SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None || SyntaxFacts.GetContextualKeywordKind(name) != SyntaxKind.None)
            {
                return "is a C# keyword";
            }

            if (IsReserved(name) || Ir.Functions.Contains(name.ToLowerInvariant()))
            {
                return "is reserved by the expression language or the generated code";
            }

            if (scope.Declared.Contains(name))
            {
                return "is declared twice (names are compared ignoring case)";
            }

            return null;
        }

        /// <summary>The name a statement that does not parse would declare, when it starts with <c>let name</c>; else null.</summary>
        private static string? FailedLetTarget(string statement)
        {
            string text = statement.TrimStart();
            if (!text.StartsWith("let", StringComparison.Ordinal) || text.Length < 4 || !char.IsWhiteSpace(text[3]))
            {
                return null;
            }

            text = text.Substring(3).TrimStart();
            int end = 0;
            while (end < text.Length && (ExpressionParser.IsLetter(text[end]) || (end > 0 && text[end] >= '0' && text[end] <= '9')))
            {
                end++;
            }

            return end > 0 ? text.Substring(0, end) : null;
        }

        /// <summary>The text on one line (runs of white space, line breaks included, become one space), for generated comments.</summary>
        private static string OneLine(string text) =>
            string.Join(" ", text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

        private static Location? SyntaxLocation(AttributeData attribute) =>
            attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax ? syntax.GetLocation() : null;

        private static AttributeArgumentSyntax? Positional(AttributeData attribute, int position) => Parser.ConstructorArgument(attribute, position);

        private static Location? PositionalLocation(AttributeData attribute, int position) =>
            Positional(attribute, position)?.GetLocation() ?? SyntaxLocation(attribute);

        private static Location? NamedLocation(AttributeData attribute, string name) =>
            attribute.ApplicationSyntaxReference?.GetSyntax() is AttributeSyntax syntax
                ? syntax.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name)?.GetLocation()
                : null;

        /// <summary>The names a rule declares, shared by its binders.</summary>
        private sealed partial class Scope
        {
            public HashSet<string> Declared { get; } = new(StringComparer.OrdinalIgnoreCase);

            /// <summary>Names whose declaration was refused and reported: their uses are skipped without another diagnostic.</summary>
            public HashSet<string> Rejected { get; } = new(StringComparer.Ordinal);

            public HashSet<string> Hyperparameters { get; } = new(StringComparer.Ordinal);

            public HashSet<string> States { get; } = new(StringComparer.Ordinal);

            public HashSet<string> AllStepScalars { get; } = new(StringComparer.Ordinal);

            /// <summary>The step scalars defined so far (host order).</summary>
            public HashSet<string> StepScalars { get; } = new(StringComparer.Ordinal);

            public HashSet<string> AllLocals { get; } = new(StringComparer.Ordinal);

            /// <summary>The locals defined so far (statement order).</summary>
            public HashSet<string> Locals { get; } = new(StringComparer.Ordinal);

            /// <summary>The number of randn() draws bound so far: each gets its own ordinal, so two draws are independent.</summary>
            public int RandomDraws { get; set; }

            /// <summary>Whether a statement bound so far reads an input beside g (gsq), which the passes of a rule with reductions do not load.</summary>
            public bool ReadsInput { get; set; }
        }

        /// <summary>
        /// A constant string argument and a map from each character of its value to its position in the source
        /// text, so a diagnostic can point inside the literal. Regular, verbatim and single-line raw literals map
        /// exactly; any other constant (a const field, a concatenation) maps to the whole argument.
        /// </summary>
        private sealed class StringArgument
        {
            private readonly SyntaxTree? _tree;
            private readonly int[]? _map;
            private readonly Location? _whole;

            private StringArgument(string? value, SyntaxTree? tree, int[]? map, Location? whole)
            {
                Value = value;
                _tree = tree;
                _map = map;
                _whole = whole;
            }

            public string? Value { get; }

            public static StringArgument Of(AttributeData attribute, int position)
            {
                string? value = position < attribute.ConstructorArguments.Length && attribute.ConstructorArguments[position].Kind != TypedConstantKind.Error
                    ? attribute.ConstructorArguments[position].Value as string
                    : null;
                AttributeArgumentSyntax? argument = Positional(attribute, position);
                Location? whole = argument?.GetLocation() ?? SyntaxLocation(attribute);
                int[]? map = null;
                if (value is not null && argument?.Expression is LiteralExpressionSyntax literal)
                {
                    map = Map(literal.Token, value);
                }

                return new StringArgument(value, argument?.SyntaxTree, map, whole);
            }

            /// <summary>The location of the whole string content (or the whole argument).</summary>
            public Location? Location() => Value is null ? _whole : Location(0, Value.Length);

            public Location? Location(int start, int length)
            {
                if (_map is null || _tree is null || Value is null)
                {
                    return _whole;
                }

                start = Math.Max(0, Math.Min(start, Value.Length));
                int end = Math.Max(start, Math.Min(start + length, Value.Length));
                return Microsoft.CodeAnalysis.Location.Create(_tree, TextSpan.FromBounds(_map[start], _map[end]));
            }

            /// <summary>map[k] = the source position of value character k; map[value.Length] = the closing quote.</summary>
            private static int[]? Map(SyntaxToken token, string value)
            {
                string text = token.Text;
                int origin = token.SpanStart;
                var map = new List<int>(value.Length + 1);
                var decoded = new System.Text.StringBuilder(value.Length);
                if (token.IsKind(SyntaxKind.StringLiteralToken) && text.StartsWith("@\"", StringComparison.Ordinal))
                {
                    for (int i = 2; i < text.Length - 1; i++)
                    {
                        map.Add(origin + i);
                        decoded.Append(text[i]);
                        if (text[i] == '"')
                        {
                            i++;
                        }
                    }

                    map.Add(origin + text.Length - 1);
                }
                else if (token.IsKind(SyntaxKind.StringLiteralToken) && text.StartsWith("\"", StringComparison.Ordinal))
                {
                    for (int i = 1; i < text.Length - 1;)
                    {
                        int start = i;
                        string? chars = text[i] == '\\' ? Escape(text, ref i) : text[i++].ToString();
                        if (chars is null)
                        {
                            return null;
                        }

                        foreach (char c in chars)
                        {
                            map.Add(origin + start);
                            decoded.Append(c);
                        }
                    }

                    map.Add(origin + text.Length - 1);
                }
                else if (token.IsKind(SyntaxKind.SingleLineRawStringLiteralToken))
                {
                    int quotes = 0;
                    while (quotes < text.Length && text[quotes] == '"')
                    {
                        quotes++;
                    }

                    for (int i = quotes; i < text.Length - quotes; i++)
                    {
                        map.Add(origin + i);
                        decoded.Append(text[i]);
                    }

                    map.Add(origin + text.Length - quotes);
                }
                else
                {
                    return null;
                }

                return decoded.ToString() == value ? map.ToArray() : null;
            }

            /// <summary>Decodes one escape sequence at text[i] (a backslash), advancing i past it.</summary>
            private static string? Escape(string text, ref int i)
            {
                if (i + 1 >= text.Length)
                {
                    return null;
                }

                char e = text[i + 1];
                i += 2;
                switch (e)
                {
                    case '\'': return "'";
                    case '"': return "\"";
                    case '\\': return "\\";
                    case '0': return "\0";
                    case 'a': return "\a";
                    case 'b': return "\b";
                    case 'e': return "\u001b";
                    case 'f': return "\f";
                    case 'n': return "\n";
                    case 'r': return "\r";
                    case 't': return "\t";
                    case 'v': return "\v";
                    case 'u':
                    case 'U':
                    case 'x':
                        int max = e == 'u' ? 4 : e == 'U' ? 8 : 4;
                        int digits = 0;
                        uint code = 0;
                        while (digits < max && i < text.Length && Uri.IsHexDigit(text[i]))
                        {
                            code = (code * 16) + (uint)Convert.ToInt32(text[i].ToString(), 16);
                            i++;
                            digits++;
                        }

                        if (digits == 0 || (e != 'x' && digits != max) || code > 0x10FFFF)
                        {
                            return null;
                        }

                        return code <= 0xFFFF ? ((char)code).ToString() : char.ConvertFromUtf32((int)code);
                    default:
                        return null;
                }
            }
        }
    }
}
