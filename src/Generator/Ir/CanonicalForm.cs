using System.Globalization;
using System.Linq;
using System.Text;
using OptGen.Generator.Helpers;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>Which front end declared a rule: part of the identity texts of version 1.</summary>
    internal enum FrontEnd
    {
        /// <summary>Building-block attributes ([FirstMoment], [Epsilon], …), lowered by AttributeRules.</summary>
        Attributes,

        /// <summary>[Hyperparameter]/[State]/[StepScalar]/[Update] strings, lowered by ExpressionLowering.</summary>
        Expressions,
    }

    /// <summary>
    /// The canonical text of a program, from which its persisted <c>ruleId</c> (a checkpoint loads only into the rule
    /// that saved it) and its kernel's type name are hashed. It is a FROZEN format, separate from every printer
    /// people read (<see cref="MathText"/>) or the compiler reads (Emit/ExprText), so neither can change an id by
    /// accident. Version 1 is, byte for byte, what OptGen 0.1 printed, quirks included: the two front ends spell
    /// programs differently (the attribute form lists state initial values and host states, the expression form
    /// marks locals with <c>let</c> and prefixes <c>expr|</c>), and an expression kernel's name also covers its
    /// statement comments, which its kernel prints. A change to any of this is a new version: add <c>V2</c>
    /// beside <see cref="V1"/>, switch <see cref="Current"/>, and say in the release notes that ids change.
    /// </summary>
    internal static class CanonicalForm
    {
        /// <summary>The version new programs are identified with.</summary>
        public const int Current = 1;

        /// <summary>The persisted rule id: 16 hex digits of the 64-bit FNV-1a hash of the canonical text.</summary>
        public static string RuleId(UpdateProgram program, FrontEnd frontEnd) =>
            Hash.Fnv64(V1.Program(program, frontEnd)).ToString("x16");

        /// <summary>The kernel struct's type name: <c>UpdateKernel_</c> and 8 hex digits of the 32-bit FNV-1a hash of its canonical text.</summary>
        public static string KernelName(UpdateProgram program, FrontEnd frontEnd) =>
            "UpdateKernel_" + Hash.Fnv32(V1.Kernel(program, frontEnd)).ToString("x8");

        /// <summary>One expression in the canonical form, e.g. <c>m / denom</c> or <c>Sqrt(v)</c>.</summary>
        public static string Expression(Expr e) => V1.Expression(e);

        /// <summary>Version 1. Do not change: saved checkpoints hold ids hashed from these texts.</summary>
        internal static class V1
        {
            public static string Program(UpdateProgram program, FrontEnd frontEnd)
            {
                var text = new StringBuilder();
                if (frontEnd == FrontEnd.Expressions)
                {
                    text.Append("expr|");
                    text.Append(string.Join(",", program.Hyperparameters.Select(h => h.Name))).Append('|');
                    text.Append(string.Join(",", program.States.Select(s => s.Name + ":" + s.Symbol))).Append('|');
                }
                else
                {
                    foreach (HyperparameterDecl h in program.Hyperparameters)
                    {
                        text.Append(h.Name).Append(',');
                    }

                    text.Append('|');
                    foreach (StateDecl s in program.States)
                    {
                        text.Append(s.Name).Append(':').Append(s.Symbol).Append(':').Append(s.InitialValue).Append(',');
                    }

                    if (program.HostStates.Count > 0)
                    {
                        text.Append("|host:");
                        foreach (HostStateDecl h in program.HostStates)
                        {
                            text.Append(h.Name).Append(':').Append(Number(h.InitialValue)).Append(':').Append(Expression(h.Advance)).Append(',');
                        }
                    }

                    text.Append('|');
                }

                foreach (HostStatement h in program.Host)
                {
                    text.Append(h.Name).Append('=').Append(Expression(h.Value)).Append(h.IsKernelScalar ? "!" : string.Empty).Append(';');
                }

                text.Append('|');
                foreach (ElementStatement e in program.Body)
                {
                    text.Append(frontEnd == FrontEnd.Expressions && e.DeclaresLocal ? "let " : string.Empty)
                        .Append(e.Target).Append('=').Append(Expression(e.Value)).Append(';');
                }

                return text.ToString();
            }

            public static string Kernel(UpdateProgram program, FrontEnd frontEnd)
            {
                var canonical = new StringBuilder();
                canonical.Append(string.Join(",", program.States.Select(s => s.Symbol))).Append('|')
                    .Append(string.Join(",", program.KernelScalars.Select(s => s.Name))).Append('|');
                foreach (ElementStatement statement in program.Body)
                {
                    if (frontEnd == FrontEnd.Expressions)
                    {
                        canonical.Append(statement.DeclaresLocal ? "let " : string.Empty).Append(statement.Target).Append('=').Append(Expression(statement.Value))
                            .Append("//").Append(statement.Comment).Append(';');
                    }
                    else
                    {
                        canonical.Append(statement.Target).Append('=').Append(Expression(statement.Value)).Append(';');
                    }
                }

                return canonical.ToString();
            }

            public static string Expression(Expr e)
            {
                var text = new StringBuilder();
                Write(text, e, 0);
                return text.ToString();
            }

            /// <summary>A double in round-trip invariant form with a decimal point: <c>0.9</c>, <c>1.0</c>, <c>1E-08</c>.</summary>
            public static string Number(double value)
            {
                string s = value.ToString("R", CultureInfo.InvariantCulture);
                return s.IndexOfAny(new[] { '.', 'E', 'e' }) >= 0 ? s : s + ".0";
            }

            // Spelled out rather than ExprOp.ToString(), so that renaming an IR operation cannot change an id.
            private static string Name(ExprOp op) => op switch
            {
                ExprOp.RandomNormal => "RandomNormal",
                ExprOp.RandomUniform => "RandomUniform",
                ExprOp.Abs => "Abs",
                ExprOp.Sqrt => "Sqrt",
                ExprOp.Exp => "Exp",
                ExprOp.Log => "Log",
                ExprOp.Sign => "Sign",
                ExprOp.SafeDivide => "SafeDivide",
                ExprOp.Min => "Min",
                ExprOp.Max => "Max",
                ExprOp.Pow => "Pow",
                ExprOp.Less => "Less",
                ExprOp.LessOrEqual => "LessOrEqual",
                ExprOp.Greater => "Greater",
                ExprOp.GreaterOrEqual => "GreaterOrEqual",
                ExprOp.Equal => "Equal",
                ExprOp.NotEqual => "NotEqual",
                ExprOp.Select => "Select",
                _ => throw new System.InvalidOperationException("No canonical name for " + op),
            };

            private static int Precedence(ExprOp op) => op switch
            {
                ExprOp.Add or ExprOp.Subtract => 1,
                ExprOp.Multiply or ExprOp.Divide => 2,
                ExprOp.Negate => 3,
                _ => 4,
            };

            private static void Write(StringBuilder text, Expr e, int parentPrecedence)
            {
                // A fused multiply-add is spelled as its math (Expr.Unfused): v − ḡ² has one id however it is rounded.
                e = Expr.Unfused(e);
                int precedence = Precedence(e.Op);
                bool wrap = precedence < parentPrecedence;
                switch (e.Op)
                {
                    case ExprOp.Constant:
                        text.Append(Number(e.Value));
                        return;
                    case ExprOp.StepNumber:
                        text.Append('t');
                        return;
                    case ExprOp.Hyperparameter:
                    case ExprOp.RuntimeInput:
                    case ExprOp.HostValue:
                    case ExprOp.HostState:
                    case ExprOp.Variable:
                    case ExprOp.Scalar:
                        text.Append(e.Name);
                        return;
                    case ExprOp.RandomNormal:
                    case ExprOp.RandomUniform:
                        // The ordinal is part of the identity (two draws are different numbers).
                        text.Append(Name(e.Op)).Append('#').Append(((int)e.Value).ToString(CultureInfo.InvariantCulture));
                        return;
                    case ExprOp.Add:
                    case ExprOp.Subtract:
                    case ExprOp.Multiply:
                    case ExprOp.Divide:
                        text.Append(wrap ? "(" : string.Empty);
                        Write(text, e.Args[0], precedence);
                        text.Append(e.Op switch { ExprOp.Add => " + ", ExprOp.Subtract => " - ", ExprOp.Multiply => " * ", _ => " / " });
                        Write(text, e.Args[1], precedence + 1);
                        text.Append(wrap ? ")" : string.Empty);
                        return;
                    case ExprOp.Negate:
                        text.Append(wrap ? "(-" : "-");
                        Write(text, e.Args[0], 4);
                        text.Append(wrap ? ")" : string.Empty);
                        return;
                    default:
                        text.Append(Name(e.Op)).Append('(');
                        for (int i = 0; i < e.Args.Count; i++)
                        {
                            text.Append(i > 0 ? ", " : string.Empty);
                            Write(text, e.Args[i], 0);
                        }

                        text.Append(')');
                        return;
                }
            }
        }
    }
}
