using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using OptGen.Generator.Diagnostics;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator
{
    /// <summary>The binder of expression rules: names to IR leaves, type checks, definition order.</summary>
    internal static partial class ExpressionRules
    {
        /// <summary>
        /// The most IR nodes one statement may bind to, counted as a tree: <c>lerp(a, b, w)</c> repeats <c>a</c>, so
        /// nested lerps grow exponentially, and every later pass walks the tree.
        /// </summary>
        internal const int MaximumSize = 4096;

        /// <summary>Resolves names and checks types of one string, producing IR; reports at the first mistake.</summary>
        private sealed partial class Binder
        {
            private readonly Scope _scope;
            private readonly StringArgument _text;
            private readonly bool _host;
            private readonly List<DiagnosticInfo> _diagnostics;

            public Binder(Scope scope, StringArgument text, bool host, string what, List<DiagnosticInfo> diagnostics)
            {
                _scope = scope;
                _text = text;
                _host = host;
                What = what;
                _diagnostics = diagnostics;
            }

            public string What { get; }

            /// <summary>The step scalar whose expression this binder binds; null for an [Update] statement.</summary>
            public string? StepScalar { get; init; }

            public void Report(DiagnosticDescriptor descriptor, int start, int length, params object[] arguments) =>
                _diagnostics.Add(DiagnosticInfo.Create(descriptor, _text.Location(start, length), arguments));

            /// <summary>Binds a statement's or step scalar's value, which must be a number.</summary>
            public Expr? BindValue(Ast node)
            {
                try
                {
                    Bound value = Bind(node);
                    RequireNumber(node, value);
                    return value.Expr;
                }
                catch (BindException)
                {
                    return null;
                }
            }

            /// <summary>Checks the target of a statement (after its value is bound) and defines a new local.</summary>
            public ElementStatement? BindTarget(AstStatement statement)
            {
                string target = statement.Target;
                int start = statement.TargetStart;
                if (statement.IsLet)
                {
                    string? problem = NameProblem(_scope, target);
                    if (problem is null && _scope.Locals.Contains(target))
                    {
                        problem = "is declared twice (names are compared ignoring case)";
                    }

                    if (problem is not null)
                    {
                        Report(DiagnosticDescriptors.InvalidDeclaration, start, target.Length, target, problem + " (declaring a local)");
                        Reject(_scope, target);
                        return null;
                    }

                    _scope.Declared.Add(target);
                    _scope.Locals.Add(target);
                    return new ElementStatement(target, Expr.Constant(0), true, string.Empty);
                }

                if (_scope.Rejected.Contains(target))
                {
                    return null; // its declaration is already reported
                }

                string? readOnly = target switch
                {
                    "g" => "the gradient g is read-only; declare a local with 'let'",
                    "t" => "t is the step number",
                    _ when Ir.ElementInputs.IsInput(target) => "it is an input beside the gradient (the batch mean of per-example squared gradients), read-only like g",
                    _ when _scope.Hyperparameters.Contains(target) => "it is a hyperparameter, set on the optimizer, not by the rule",
                    _ when _scope.AllStepScalars.Contains(target) => "it is a step scalar, computed once per step by its [StepScalar]",
                    _ when Ir.Functions.Contains(target) => "it is a function",
                    _ => null,
                };
                if (readOnly is not null)
                {
                    Report(DiagnosticDescriptors.ReadOnlyTarget, start, target.Length, target, readOnly);
                    return null;
                }

                if (target == "p" || _scope.States.Contains(target) || _scope.Locals.Contains(target))
                {
                    return new ElementStatement(target, Expr.Constant(0), false, string.Empty);
                }

                Report(DiagnosticDescriptors.UnknownName, start, target.Length, target,
                    _scope.AllLocals.Contains(target)
                        ? ": its 'let' comes later; assign it after 'let " + target + " = ...'"
                        : ": assign p, a [State], or declare a local with 'let " + target + " = ...'");
                return null;
            }

            private Bound Bind(Ast node)
            {
                Bound bound = BindCore(node);
                if (bound.Size > MaximumSize)
                {
                    bool atOperator = node.Kind is AstKind.Binary or AstKind.Call or AstKind.Negate;
                    Report(DiagnosticDescriptors.ExpressionTooComplex, atOperator ? node.OperatorStart : node.Start, atOperator ? node.OperatorLength : node.Length, What,
                        $"it expands to more than {MaximumSize} operations (lerp repeats its first argument)");
                    throw new BindException();
                }

                if (node.Kind is AstKind.Binary or AstKind.Call or AstKind.Negate && !bound.IsCondition)
                {
                    RequireFiniteConstant(node, bound.Expr);
                }

                _scope.Origins.Add(new Origin(bound.Expr, _text, node.Start, node.Length, What, _host ? StepScalar : null));

                return bound;
            }

            private Bound BindCore(Ast node)
            {
                switch (node.Kind)
                {
                    case AstKind.Number:
                        if (!_host)
                        {
                            RequireFloat32(node);
                        }

                        return new Bound(Expr.Constant(node.Value), false, 1);
                    case AstKind.Name:
                        return new Bound(Resolve(node), false, 1);
                    case AstKind.Negate:
                        Bound operand = Bind(node.Args[0]);
                        RequireNumber(node.Args[0], operand);
                        return operand.Expr.Op == ExprOp.Constant
                            ? new Bound(Expr.Constant(-operand.Expr.Value), false, 1)
                            : new Bound(-operand.Expr, false, operand.Size + 1);
                    case AstKind.Binary:
                        Bound left = Bind(node.Args[0]);
                        Bound right = Bind(node.Args[1]);
                        RequireNumber(node.Args[0], left);
                        RequireNumber(node.Args[1], right);
                        if (node.Text == "/")
                        {
                            RequireNonZeroDivisor(node.Args[1], right.Expr);
                        }

                        ExprOp op = node.Text switch
                        {
                            "+" => ExprOp.Add,
                            "-" => ExprOp.Subtract,
                            "*" => ExprOp.Multiply,
                            "/" => ExprOp.Divide,
                            "<" => ExprOp.Less,
                            "<=" => ExprOp.LessOrEqual,
                            ">" => ExprOp.Greater,
                            ">=" => ExprOp.GreaterOrEqual,
                            "==" => ExprOp.Equal,
                            _ => ExprOp.NotEqual,
                        };
                        return new Bound(Expr.Binary(op, left.Expr, right.Expr), Expr.IsComparison(op), left.Size + right.Size + 1);
                    case AstKind.Conditional:
                        return Select(node.Args[0], node.Args[1], node.Args[2]);
                    default:
                        return Call(node);
                }
            }

            private Bound Select(Ast condition, Ast whenTrue, Ast whenFalse)
            {
                Bound c = Bind(condition);
                if (!c.IsCondition)
                {
                    Report(DiagnosticDescriptors.ExpressionType, condition.Start, condition.Length,
                        "A condition must be a comparison such as 'x > 0', not a number");
                    throw new BindException();
                }

                Bound a = Bind(whenTrue);
                Bound b = Bind(whenFalse);
                RequireNumber(whenTrue, a);
                RequireNumber(whenFalse, b);
                return new Bound(Expr.Select(c.Expr, a.Expr, b.Expr), false, c.Size + a.Size + b.Size + 1);
            }

            private Bound Call(Ast node)
            {
                if (Ir.ReductionDecl.TryKind(node.Text, out Ir.ReductionKind reduction, out Ir.ReductionScopeKind scope))
                {
                    return Reduction(node, reduction, scope);
                }

                if (!Ir.Functions.TryGet(node.Text, out Ir.FunctionInfo function))
                {
                    Report(DiagnosticDescriptors.UnknownFunction, node.OperatorStart, node.OperatorLength, node.Text, Ir.Functions.Description);
                    throw new BindException();
                }

                int arity = function.Arity;

                if (node.Args.Length != arity)
                {
                    Report(DiagnosticDescriptors.ArgumentCount, node.OperatorStart, node.OperatorLength, node.Text,
                        arity == 1 ? "1 argument" : $"{arity} arguments", node.Args.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    throw new BindException();
                }

                if (node.Text is "randn" or "rand")
                {
                    if (_host)
                    {
                        Report(DiagnosticDescriptors.NotAvailableHere, node.OperatorStart, node.OperatorLength, node.Text,
                            "it draws a different number for every element, and a step scalar is computed once per step on the host");
                        throw new BindException();
                    }

                    if (_scope.Reductions.Count > 0 || _inReductionOperand)
                    {
                        Report(DiagnosticDescriptors.NotAvailableHere, node.OperatorStart, node.OperatorLength, node.Text,
                            "a rule with reductions runs in two passes, and a random draw is not repeated between them");
                        throw new BindException();
                    }

                    return new Bound(new Expr(node.Text == "rand" ? ExprOp.RandomUniform : ExprOp.RandomNormal, _scope.RandomDraws++, string.Empty, EquatableArray<Expr>.Empty), false, 1);
                }

                if (node.Text == "select")
                {
                    return Select(node.Args[0], node.Args[1], node.Args[2]);
                }

                var args = new Expr[arity];
                var sizes = new long[arity];
                for (int i = 0; i < arity; i++)
                {
                    Bound arg = Bind(node.Args[i]);
                    RequireNumber(node.Args[i], arg);
                    args[i] = arg.Expr;
                    sizes[i] = arg.Size;
                }

                if (node.Text == "rsqrt")
                {
                    RequireNonZeroDivisor(node.Args[0], args[0]);
                }

                Expr result = function.Lower!(args);
                if (function.Use == Ir.FunctionUse.PerStep && !_host && !Expr.IsUniform(result))
                {
                    Report(DiagnosticDescriptors.NotAvailableHere, node.OperatorStart, node.OperatorLength, node.Text,
                        $"per element, {node.Text} needs arguments that are the same for every element (t, hyperparameters, step scalars, numbers)");
                    throw new BindException();
                }

                return new Bound(result, false, SizeOf(result, args, sizes));
            }

            /// <summary>The tree size of a function's IR, from its arguments' sizes (an argument may appear twice).</summary>
            private static long SizeOf(Expr e, Expr[] args, long[] sizes)
            {
                for (int i = 0; i < args.Length; i++)
                {
                    if (ReferenceEquals(e, args[i]))
                    {
                        return sizes[i];
                    }
                }

                long size = 1;
                foreach (Expr arg in e.Args)
                {
                    size += SizeOf(arg, args, sizes);
                }

                return size;
            }

            /// <summary>A divisor made of numbers alone must not be 0: <c>g / 0</c>, <c>Lr / (1 - 1)</c>.</summary>
            private void RequireNonZeroDivisor(Ast node, Expr divisor)
            {
                if (Ir.ConstantFold.Value(divisor) is double value && value == 0)
                {
                    Report(DiagnosticDescriptors.DivisionByZero, node.Start, node.Length, What);
                    throw new BindException();
                }
            }

            /// <summary>
            /// A part made of numbers alone must have a finite value: <c>sqrt(0 - 1)</c>, <c>log(0)</c>,
            /// <c>exp(1000)</c> and <c>1e200 * 1e200</c> would be NaN or ∞ on every step. Reported at the smallest such part.
            /// </summary>
            private void RequireFiniteConstant(Ast node, Expr value)
            {
                if (Ir.ConstantFold.Value(value) is double folded && (double.IsNaN(folded) || double.IsInfinity(folded)))
                {
                    Report(DiagnosticDescriptors.NotFloat32, node.Start, node.Length, $"'{_text.Value!.Substring(node.Start, node.Length)}' in {What}", Parser.Format(folded),
                        double.IsNaN(folded) ? "NaN" : folded > 0 ? "∞" : "−∞");
                    throw new BindException();
                }
            }

            /// <summary>
            /// A number in an [Update] statement is a float32 in the kernel: it must be finite there, and not a
            /// nonzero value that rounds to 0.
            /// </summary>
            private void RequireFloat32(Ast number)
            {
                float f = (float)number.Value;
                if (float.IsInfinity(f) || (f == 0 && number.Value != 0))
                {
                    Report(DiagnosticDescriptors.NotFloat32, number.Start, number.Length, $"The number {number.Text} in {What}", Parser.Format(number.Value),
                        float.IsInfinity(f) ? "∞" : "0");
                    throw new BindException();
                }
            }

            private Expr Resolve(Ast node)
            {
                string name = node.Text;
                if (_scope.Rejected.Contains(name))
                {
                    throw new BindException(); // its declaration is already reported
                }

                if (name == "t")
                {
                    return Expr.Step();
                }

                if (name == BatchSizeSymbol && !_scope.Hyperparameters.Contains(name) && !_scope.States.Contains(name) && !_scope.AllStepScalars.Contains(name) && !_scope.AllLocals.Contains(name))
                {
                    return Ir.BatchSize.Value; // the step's batch size, unless the rule declares a B of its own
                }

                if (_scope.Hyperparameters.Contains(name))
                {
                    return Expr.Hyperparameter(name);
                }

                if (Ir.Functions.Contains(name))
                {
                    Report(DiagnosticDescriptors.ExpressionType, node.Start, node.Length, $"'{name}' is a function; call it as {name}(...)");
                    throw new BindException();
                }

                bool element = name == "p" || name == "g" || Ir.ElementInputs.IsInput(name) || _scope.States.Contains(name) || _scope.AllLocals.Contains(name);
                if (_host)
                {
                    if (_scope.StepScalars.Contains(name))
                    {
                        return Expr.Host(name);
                    }

                    if (_scope.AllStepScalars.Contains(name))
                    {
                        Report(DiagnosticDescriptors.ReadBeforeDefinition, node.Start, node.Length, name, ": a step scalar may use only the step scalars declared before it");
                        throw new BindException();
                    }

                    if (element)
                    {
                        Report(DiagnosticDescriptors.NotAvailableHere, node.Start, node.Length, name,
                            "it is a per-element value, and a step scalar is computed once per step from t, hyperparameters and earlier step scalars");
                        throw new BindException();
                    }
                }
                else
                {
                    if (_scope.AllStepScalars.Contains(name))
                    {
                        return Expr.Host(name);
                    }

                    if (Ir.ElementInputs.IsInput(name))
                    {
                        // Inside the first reduction's operand (norm(gsq)) the reduction is not declared yet.
                        if (_scope.Reductions.Count > 0 || _inReductionOperand)
                        {
                            Report(DiagnosticDescriptors.NotAvailableHere, node.Start, node.Length, name,
                                "a rule with reductions runs in passes that read p, g and the state only, not the inputs beside g");
                            throw new BindException();
                        }

                        _scope.ReadsInput = true;
                        return Expr.Var(name);
                    }

                    if (name == "p" || name == "g" || _scope.States.Contains(name) || _scope.Locals.Contains(name))
                    {
                        return Expr.Var(name);
                    }

                    if (_scope.AllLocals.Contains(name))
                    {
                        Report(DiagnosticDescriptors.ReadBeforeDefinition, node.Start, node.Length, name, ": a local is read only after its 'let'");
                        throw new BindException();
                    }
                }

                Report(DiagnosticDescriptors.UnknownName, node.Start, node.Length, name,
                    ": names are p, g, t, and the rule's [State], [Hyperparameter], [StepScalar] and 'let' names");
                throw new BindException();
            }

            private void RequireNumber(Ast node, Bound value)
            {
                if (value.IsCondition)
                {
                    Report(DiagnosticDescriptors.ExpressionType, node.Start, node.Length,
                        "A comparison is a condition, not a number; use it as the condition of '? :' or select(condition, a, b)");
                    throw new BindException();
                }
            }

            private readonly struct Bound
            {
                public Bound(Expr expr, bool isCondition, long size)
                {
                    Expr = expr;
                    IsCondition = isCondition;
                    Size = size;
                }

                public Expr Expr { get; }

                public bool IsCondition { get; }

                /// <summary>The number of IR nodes, counted as a tree (shared subtrees count each time they appear).</summary>
                public long Size { get; }
            }

            /// <summary>Stops binding one string after its first mistake has been reported (caught in this class).</summary>
            private sealed class BindException : Exception
            {
            }
        }
    }
}
