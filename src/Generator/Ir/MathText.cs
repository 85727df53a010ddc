using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>
    /// Prints IR in math notation for people: the rule in an optimizer's <c>&lt;remarks&gt;</c>, the comment over
    /// each kernel statement and each per-step scalar's formula. Every such text is printed from the very
    /// <see cref="Expr"/> the emitters compile, through a <see cref="Symbols"/> table (hyperparameter → η, β₁, …;
    /// host value → ρₜ, c₁, …), so the documentation cannot disagree with the code. Purely cosmetic: nothing
    /// persisted or compared reads it (the rule's identity is <see cref="CanonicalForm"/>).
    /// </summary>
    internal static class MathText
    {
        /// <summary>How the leaves of an expression are named.</summary>
        internal sealed class Symbols
        {
            private readonly Dictionary<string, string> _hyperparameters = new(StringComparer.Ordinal);
            private readonly Dictionary<string, string> _hostValues = new(StringComparer.Ordinal);
            private readonly Dictionary<string, string> _hostStates = new(StringComparer.Ordinal);
            private readonly Dictionary<string, Expr> _inlinedScalars = new(StringComparer.Ordinal);

            /// <summary>Symbols of a program's hyperparameters, host values and host states.</summary>
            public static Symbols Of(UpdateProgram program)
            {
                var symbols = new Symbols();
                foreach (HyperparameterDecl h in program.Hyperparameters)
                {
                    symbols._hyperparameters[h.Name] = h.Symbol;
                }

                foreach (HostStatement h in program.Host)
                {
                    if (h.Symbol.Length > 0)
                    {
                        symbols._hostValues[h.Name] = h.Symbol;
                    }
                }

                foreach (HostStateDecl h in program.HostStates)
                {
                    symbols._hostStates[h.Name] = h.Symbol;
                }

                return symbols;
            }

            /// <summary>Kernel scalars printed as their host formula rather than by name.</summary>
            public Symbols Inlining(IEnumerable<HostStatement> scalars)
            {
                foreach (HostStatement s in scalars)
                {
                    _inlinedScalars[s.Name] = s.Value;
                }

                return this;
            }

            /// <summary>Whether the advance of a host state is printed (its leaf is the value before the step).</summary>
            public bool PreviousHostState { get; set; }

            public string Hyperparameter(string name) => _hyperparameters.TryGetValue(name, out string? s) ? s : name;

            public string HostValue(string name) => _hostValues.TryGetValue(name, out string? s) ? s : name;

            public string HostState(string name) =>
                (_hostStates.TryGetValue(name, out string? s) ? s : name) + (PreviousHostState ? "ₜ₋₁" : "ₜ");

            public Expr? Inlined(string scalar) => _inlinedScalars.TryGetValue(scalar, out Expr? value) ? value : null;
        }

        /// <summary>An expression, e.g. <c>η/(1 − β₁ᵗ)</c>.</summary>
        public static string Print(Expr e, Symbols symbols)
        {
            var text = new StringBuilder();
            Write(text, e, symbols, 0);
            if (Contains(e, ExprOp.SafeDivide))
            {
                text.Append("  (0/0 := 0)");
            }

            return text.ToString();
        }

        /// <summary>An element statement, e.g. <c>m ← β₁·m + (1 − β₁)·g</c> or, for a new local, <c>dir = m/denom</c>.</summary>
        public static string Statement(ElementStatement s, Symbols symbols) => $"{s.Target} {(s.DeclaresLocal ? "=" : "←")} {Print(s.Value, symbols)}";

        /// <summary>Whether some node of <paramref name="e"/> is <paramref name="op"/>.</summary>
        public static bool Contains(Expr e, ExprOp op) => e.Op == op || e.Args.Any(a => Contains(a, op));

        /// <summary>A number as people write it: <c>1</c>, <c>0.5</c>, <c>1E-08</c>.</summary>
        public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

        private static int Precedence(Expr e) => e.Op switch
        {
            ExprOp op when Expr.IsComparison(op) => 0,
            ExprOp.Add or ExprOp.Subtract => 1,
            ExprOp.Multiply or ExprOp.Divide or ExprOp.SafeDivide => 2,
            ExprOp.Negate => 3,
            ExprOp.Pow => 4,
            ExprOp.Constant when e.Value < 0 => 3,
            _ => 5,
        };

        private static void Write(StringBuilder text, Expr e, Symbols symbols, int parent)
        {
            e = Expr.Unfused(e); // a fused multiply-add reads as its math
            if (e.Op == ExprOp.Scalar && symbols.Inlined(e.Name) is { } inlined)
            {
                Write(text, inlined, symbols, parent);
                return;
            }

            int precedence = Precedence(e);
            bool wrap = precedence < parent;
            if (wrap)
            {
                text.Append('(');
            }

            switch (e.Op)
            {
                case ExprOp.Constant:
                    text.Append(Number(e.Value));
                    break;
                case ExprOp.Hyperparameter:
                    text.Append(symbols.Hyperparameter(e.Name));
                    break;
                case ExprOp.StepNumber:
                    text.Append('t');
                    break;
                case ExprOp.RuntimeInput when e.Name == BatchSize.InputName:
                    text.Append('B'); // the lecture's batch size
                    break;
                case ExprOp.RuntimeInput:
                    text.Append(char.ToLowerInvariant(e.Name[0])).Append(e.Name, 1, e.Name.Length - 1);
                    break;
                case ExprOp.HostValue:
                    text.Append(symbols.HostValue(e.Name));
                    break;
                case ExprOp.HostState:
                    text.Append(symbols.HostState(e.Name));
                    break;
                case ExprOp.Scalar:
                case ExprOp.Variable:
                    text.Append(e.Name);
                    break;
                case ExprOp.RandomNormal:
                    text.Append("randn()");
                    break;
                case ExprOp.RandomUniform:
                    text.Append("rand()");
                    break;
                case ExprOp.Negate:
                    text.Append('−');
                    Write(text, e.Args[0], symbols, 4);
                    break;
                case ExprOp.Abs:
                    text.Append('|');
                    Write(text, e.Args[0], symbols, 0);
                    text.Append('|');
                    break;
                case ExprOp.Sqrt:
                    text.Append('√');
                    Write(text, e.Args[0], symbols, 5);
                    break;
                case ExprOp.Add:
                    WriteInfix(text, e, symbols, 1, " + ", 1);
                    break;
                case ExprOp.Subtract:
                    WriteInfix(text, e, symbols, 1, " − ", 2);
                    break;
                case ExprOp.Multiply:
                    WriteProduct(text, e, symbols);
                    break;
                case ExprOp.Divide:
                case ExprOp.SafeDivide:
                    WriteInfix(text, e, symbols, 2, "/", 3);
                    break;
                case ExprOp.Pow:
                    Write(text, e.Args[0], symbols, 5);
                    if (e.Args[1].Op == ExprOp.StepNumber)
                    {
                        text.Append('ᵗ');
                    }
                    else
                    {
                        text.Append('^');
                        Write(text, e.Args[1], symbols, 5);
                    }

                    break;
                case ExprOp.Less:
                case ExprOp.LessOrEqual:
                case ExprOp.Greater:
                case ExprOp.GreaterOrEqual:
                case ExprOp.Equal:
                case ExprOp.NotEqual:
                    string comparison = e.Op switch
                    {
                        ExprOp.Less => " < ",
                        ExprOp.LessOrEqual => " ≤ ",
                        ExprOp.Greater => " > ",
                        ExprOp.GreaterOrEqual => " ≥ ",
                        ExprOp.Equal => " = ",
                        _ => " ≠ ",
                    };
                    WriteInfix(text, e, symbols, 1, comparison, 1);
                    break;
                case ExprOp.Select:
                    if (!wrap)
                    {
                        text.Append('(');
                    }

                    Write(text, e.Args[0], symbols, 0);
                    text.Append(" ? ");
                    Write(text, e.Args[1], symbols, 0);
                    text.Append(" : ");
                    Write(text, e.Args[2], symbols, 0);
                    if (!wrap)
                    {
                        text.Append(')');
                    }

                    break;
                default:
                    // exp, log, sign, min, max: by name, as the expression rules spell them.
                    text.Append(e.Op.ToString().ToLowerInvariant()).Append('(');
                    for (int i = 0; i < e.Args.Count; i++)
                    {
                        text.Append(i > 0 ? ", " : string.Empty);
                        Write(text, e.Args[i], symbols, 0);
                    }

                    text.Append(')');
                    break;
            }

            if (wrap)
            {
                text.Append(')');
            }
        }

        // Args[0] operator Args[1], each side wrapped when its precedence is below the one given for it.
        private static void WriteInfix(StringBuilder text, Expr e, Symbols symbols, int left, string op, int right)
        {
            Write(text, e.Args[0], symbols, left);
            text.Append(op);
            Write(text, e.Args[1], symbols, right);
        }

        // a·(1/b) reads a/b; a·x·x reads a·x²; a factor that is itself a quotient is parenthesized, so that
        // (η/(1 − β₁ᵗ))·m cannot be read as η/((1 − β₁ᵗ)·m).
        private static void WriteProduct(StringBuilder text, Expr e, Symbols symbols)
        {
            Expr left = Resolve(e.Args[0], symbols);
            Expr right = Resolve(e.Args[1], symbols);
            if (right.Op == ExprOp.Divide && right.Args[0] is { Op: ExprOp.Constant, Value: 1 })
            {
                WriteFactor(text, e.Args[0], symbols);
                text.Append('/');
                Write(text, right.Args[1], symbols, 3);
                return;
            }

            if (right.Op == ExprOp.Variable && left.Op == ExprOp.Multiply && Resolve(left.Args[1], symbols) == right)
            {
                WriteFactor(text, left.Args[0], symbols);
                text.Append('·').Append(right.Name).Append('²');
                return;
            }

            if (right.Op == ExprOp.Variable && left == right)
            {
                text.Append(right.Name).Append('²');
                return;
            }

            WriteFactor(text, e.Args[0], symbols);
            text.Append('·');
            WriteFactor(text, e.Args[1], symbols);
        }

        private static void WriteFactor(StringBuilder text, Expr e, Symbols symbols)
        {
            Expr resolved = Resolve(e, symbols);
            Write(text, e, symbols, resolved.Op is ExprOp.Divide or ExprOp.SafeDivide ? 3 : 2);
        }

        private static Expr Resolve(Expr e, Symbols symbols) =>
            e.Op == ExprOp.Scalar && symbols.Inlined(e.Name) is { } inlined ? Resolve(inlined, symbols) : e;
    }
}
