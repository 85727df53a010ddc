using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Ir;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>
    /// Tensor reductions in expression rules: <c>sum(x)</c>, <c>mean(x)</c>, <c>norm(x)</c>, <c>maxabs(x)</c> over an
    /// element expression x, in [Update] statements. Each becomes an operand statement <c>let norm_0 = x</c> before
    /// the statement that calls it and a read of <c>norm_0</c> in its place (<see cref="ReductionDecl"/>); the pass
    /// planner (<see cref="PassPlanner"/>) splits the rule at them.
    /// </summary>
    internal static partial class ExpressionRules
    {
        private sealed partial class Scope
        {
            /// <summary>The reductions bound so far, in order.</summary>
            public List<ReductionDecl> Reductions { get; } = new();

            /// <summary>Variables whose current value depends on a reduction.</summary>
            public HashSet<string> Tainted { get; } = new(System.StringComparer.Ordinal);

            /// <summary>After a statement assigns <paramref name="target"/>: it depends on a reduction from now on, or no longer.</summary>
            public void Taint(string target, Expr value)
            {
                if (DependsOnReduction(value))
                {
                    Tainted.Add(target);
                }
                else
                {
                    Tainted.Remove(target);
                }
            }

            public bool DependsOnReduction(Expr e) =>
                PassPlanner.Variables(e).Any(v => Tainted.Contains(v) || Reductions.Any(r => r.Name == v));

            /// <summary>
            /// Whether <paramref name="e"/> depends on reductions only through states (e.g. <c>r</c> after
            /// <c>r = lerp(r, row_mean(g * g), w)</c>): a tensor reduction of it is computed from the compact state
            /// between the passes, if the planner stores the state compactly (checked after the rule is bound).
            /// </summary>
            public bool DependsOnlyThroughStates(Expr e) =>
                PassPlanner.Variables(e).Where(v => Tainted.Contains(v) || Reductions.Any(r => r.Name == v)).All(States.Contains);

            /// <summary>The reductions over a state computed from a reduction, with the OPTG0115 to report if the planner cannot compute them.</summary>
            public List<(string Name, DiagnosticInfo Diagnostic)> OverStates { get; } = new();
        }

        private sealed partial class Binder
        {
            /// <summary>The longest block a <c>block_*</c> reduction may name: 2³¹ − 1 elements, the longest tensor.</summary>
            internal const int MaximumBlockLength = int.MaxValue;

            private readonly List<ElementStatement> _operands = new();

            /// <summary>Whether a reduction's operand is being bound (a randn() there is refused as after a reduction).</summary>
            private bool _inReductionOperand;

            /// <summary>The operand statements of the reductions the last bound statement calls, to go before it.</summary>
            public IEnumerable<ElementStatement> ReductionOperands(string line)
            {
                var operands = _operands.Select(s => s with { Comment = "reduction operand of: " + line }).ToList();
                _operands.Clear();
                return operands;
            }

            private Bound Reduction(Ast node, ReductionKind kind, ReductionScopeKind scope)
            {
                string function = ReductionDecl.FunctionOf(kind, scope);
                if (_host)
                {
                    Report(DiagnosticDescriptors.ReductionInStepScalar, node.OperatorStart, node.OperatorLength, function);
                    throw new BindException();
                }

                int arity = scope == ReductionScopeKind.Block ? 2 : 1;
                if (node.Args.Length != arity)
                {
                    Report(DiagnosticDescriptors.ArgumentCount, node.OperatorStart, node.OperatorLength, function,
                        arity == 1 ? "1 argument" : "2 arguments (the operand and the block length)",
                        node.Args.Length.ToString(CultureInfo.InvariantCulture));
                    throw new BindException();
                }

                if (_scope.RandomDraws > 0)
                {
                    Report(DiagnosticDescriptors.NotAvailableHere, node.OperatorStart, node.OperatorLength, function,
                        "the rule draws random numbers (randn, rand), and a rule with reductions runs in two passes that would not repeat them");
                    throw new BindException();
                }

                if (_scope.ReadsInput)
                {
                    Report(DiagnosticDescriptors.NotAvailableHere, node.OperatorStart, node.OperatorLength, function,
                        "the rule reads gsq, and a rule with reductions runs in passes that read p, g and the state only, not the inputs beside g");
                    throw new BindException();
                }

                int blockLength = 0;
                if (scope == ReductionScopeKind.Block)
                {
                    Ast lengthArgument = node.Args[1];
                    int before0 = _operands.Count;
                    Bound length = Bind(lengthArgument);
                    double? value = length.IsCondition || _operands.Count > before0 ? null : ConstantFold.Value(length.Expr);
                    if (value is not double v || v != System.Math.Floor(v) || v < 1 || v > MaximumBlockLength)
                    {
                        Report(DiagnosticDescriptors.InvalidBlockLength, lengthArgument.Start, lengthArgument.Length, function,
                            value is double d ? Parser.Format(d) : "not a number known when the rule is compiled");
                        throw new BindException();
                    }

                    blockLength = (int)v;
                }

                Ast argument = node.Args[0];
                int before = _operands.Count;
                bool outer = _inReductionOperand;
                _inReductionOperand = true;
                Bound operand;
                try
                {
                    operand = Bind(argument);
                }
                finally
                {
                    _inReductionOperand = outer;
                }

                RequireNumber(argument, operand);
                bool overState = _operands.Count == before && scope == ReductionScopeKind.Tensor && _scope.DependsOnReduction(operand.Expr) && _scope.DependsOnlyThroughStates(operand.Expr);
                if (_operands.Count > before || (_scope.DependsOnReduction(operand.Expr) && !overState))
                {
                    Report(DiagnosticDescriptors.NestedReduction, argument.Start, argument.Length, function,
                        _operands.Count > before ? "it contains another reduction"
                        : scope == ReductionScopeKind.Tensor ? "it reads a value computed from a reduction (other than a state)"
                        : "it reads a value computed from a reduction (a state computed from one can be reduced by a tensor reduction only)");
                    throw new BindException();
                }

                if (Expr.IsUniform(operand.Expr))
                {
                    Report(DiagnosticDescriptors.ReductionOperandNotElementwise, argument.Start, argument.Length, function);
                    throw new BindException();
                }

                // The same reduction twice in one statement (e.g. norm(p) > 0 ? x / norm(p) : 0) is computed once.
                foreach (ElementStatement earlier in _operands)
                {
                    if (earlier.Value == operand.Expr && _scope.Reductions.Any(r => r.Name == earlier.Target && r.Kind == kind && r.Scope == scope && r.BlockLength == blockLength))
                    {
                        return new Bound(Expr.Var(earlier.Target), false, operand.Size + 1);
                    }
                }

                string name = ReductionDecl.NameOf(kind, scope, blockLength, _scope.Reductions.Count);
                _scope.Reductions.Add(new ReductionDecl(name, kind) { Scope = scope, BlockLength = blockLength });
                if (overState)
                {
                    _scope.OverStates.Add((name, DiagnosticInfo.Create(DiagnosticDescriptors.NestedReduction, _text.Location(argument.Start, argument.Length), function,
                        "it reads a state computed from a reduction, which can be reduced only when the state is stored once per tensor, row, column or block (no per-element value, not read before its last assignment) and no such state is computed from this reduction")));
                }

                _operands.Add(new ElementStatement(name, operand.Expr, true, string.Empty));
                return new Bound(Expr.Var(name), false, operand.Size + 1);
            }
        }
    }
}
