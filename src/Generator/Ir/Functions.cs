using System;
using System.Collections.Generic;
using System.Linq;
using OptGen.Generator.Model;

namespace OptGen.Generator.Ir
{
    /// <summary>Where an expression-rule function may be called.</summary>
    internal enum FunctionUse
    {
        /// <summary>In step scalars and per element.</summary>
        Anywhere,

        /// <summary>Per element only: it draws a different number for every element.</summary>
        PerElement,

        /// <summary>Where its arguments are the same for every element: in step scalars, or per element over uniform values.</summary>
        PerStep,
    }

    /// <summary>One function of the expression language.</summary>
    /// <param name="Name">As written in a rule, e.g. <c>lerp</c>.</param>
    /// <param name="Arity">Its number of arguments.</param>
    /// <param name="Use">Where it may be called.</param>
    /// <param name="Lower">Its IR from its bound arguments; null for the three the binder lowers itself (select binds a condition; randn and rand number their draws).</param>
    internal sealed record FunctionInfo(string Name, int Arity, FunctionUse Use, Func<Expr[], Expr>? Lower);

    /// <summary>
    /// The expression language's functions: the one table the binder (ExpressionRules.Binder.cs: arity, IR, where it
    /// may be called), the OPTG0103 message (<see cref="Description"/>), the docs test (every function is in
    /// docs/expressions.md) and the fuzzer read. A new function is a row here (and a line in docs/expressions.md);
    /// a new IR operation also needs its C# in Emit/ExprText.cs, its math in <see cref="MathText"/> and its V1 name in
    /// <see cref="CanonicalForm"/>.
    /// </summary>
    internal static class Functions
    {
        public static readonly IReadOnlyList<FunctionInfo> All = new FunctionInfo[]
        {
            new("sqrt", 1, FunctionUse.Anywhere, a => Expr.Unary(ExprOp.Sqrt, a[0])),
            new("rsqrt", 1, FunctionUse.Anywhere, a => Expr.Constant(1) / Expr.Unary(ExprOp.Sqrt, a[0])),
            new("abs", 1, FunctionUse.Anywhere, a => Expr.Unary(ExprOp.Abs, a[0])),
            new("sign", 1, FunctionUse.Anywhere, a => Expr.Unary(ExprOp.Sign, a[0])),
            new("exp", 1, FunctionUse.Anywhere, a => Expr.Unary(ExprOp.Exp, a[0])),
            new("log", 1, FunctionUse.Anywhere, a => Expr.Unary(ExprOp.Log, a[0])),
            new("min", 2, FunctionUse.Anywhere, a => Expr.Binary(ExprOp.Min, a[0], a[1])),
            new("max", 2, FunctionUse.Anywhere, a => Expr.Binary(ExprOp.Max, a[0], a[1])),
            new("pow", 2, FunctionUse.PerStep, a => Expr.Binary(ExprOp.Pow, a[0], a[1])),
            new("batchDecay", 1, FunctionUse.PerStep, a => BatchSize.StepDecay(a[0])), // β′ per example → max(0, 1 − B·(1 − β′)) per step
            new("clamp", 3, FunctionUse.Anywhere, a => Expr.Binary(ExprOp.Min, Expr.Binary(ExprOp.Max, a[0], a[1]), a[2])),
            new("lerp", 3, FunctionUse.Anywhere, a => a[0] + (a[2] * (a[1] - a[0]))), // lerp(a, b, w) = a + w·(b − a)
            new("fma", 3, FunctionUse.Anywhere, a => Expr.MultiplyAdd(a[0], a[1], a[2])), // a·b + c rounded once
            new("select", 3, FunctionUse.Anywhere, null),
            new("randn", 0, FunctionUse.PerElement, null),
            new("rand", 0, FunctionUse.PerElement, null),
        };

        private static readonly Dictionary<string, FunctionInfo> ByName = All.ToDictionary(f => f.Name, StringComparer.Ordinal);

        /// <summary>The list in the OPTG0103 message, e.g. "sqrt, …, select, (per element only) randn() and rand(), and (per step only) pow".</summary>
        public static string Description { get; } =
            string.Join(", ", All.Where(f => f.Use == FunctionUse.Anywhere).Select(f => f.Name))
            + ", (per element only) " + string.Join(" and ", All.Where(f => f.Use == FunctionUse.PerElement).Select(f => f.Name + "()"))
            + ", and (per step only) " + string.Join(", ", All.Where(f => f.Use == FunctionUse.PerStep).Select(f => f.Name));

        public static bool TryGet(string name, out FunctionInfo function)
        {
            bool found = ByName.TryGetValue(name, out FunctionInfo? f);
            function = f!;
            return found;
        }

        public static bool Contains(string name) => ByName.ContainsKey(name);
    }
}
