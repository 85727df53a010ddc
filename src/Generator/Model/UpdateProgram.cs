using System.Linq;
using OptGen.Generator.Helpers;

namespace OptGen.Generator.Model
{
    // The update IR. Every declaration is lowered to one UpdateProgram; every emitter (CPU SIMD, ILGPU) consumes
    // it. A program has two halves:
    //   * host statements, evaluated once per step in double precision from the hyperparameters and t; the ones
    //     marked as kernel scalars become float32 fields of the kernel (the "per-step scalars");
    //   * element statements, evaluated per element in float32 over p, g, the state buffers, element locals and
    //     the kernel scalars. A statement assigns a new local or overwrites p or a state buffer; later statements
    //     see the new value (like C# locals passed by ref).

    internal enum ExprOp
    {
        // Leaves.
        Constant,        // Value
        Hyperparameter,  // Name: a hyperparameter (host only)
        StepNumber,      // t = 1, 2, ... as a double (host only)
        RuntimeInput,    // Name: a value the runtime supplies per launch, e.g. GradientScale (host only)
        HostValue,       // Name: an earlier host statement (host only)
        HostState,       // Name: a carried host state (host only): its value before the step in an advance, after it elsewhere
        Scalar,          // Name: a kernel scalar (element only)
        Variable,        // Name: p, g, a state buffer or an element local (element only)
        RandomNormal,    // Value: the draw's ordinal k in the rule; a standard normal from (seed, t, global element index, k) (element only)
        RandomUniform,   // Value: the draw's ordinal k; uniform on [0, 1) from the same counter (element only)

        // Unary.
        Negate,
        Abs,
        Sqrt,
        Exp,
        Log,
        Sign,            // 1 for x > 0, −1 for x < 0, x·0 otherwise (keeps ±0 and NaN)

        // Binary.
        Add,
        Subtract,
        Multiply,
        Divide,
        SafeDivide,      // a / b, but 0 where b == 0 (the lecture's 0/0 := 0)
        Min,
        Max,
        Pow,             // host only
        Less,
        LessOrEqual,
        Greater,
        GreaterOrEqual,
        Equal,
        NotEqual,

        // Ternary.
        Select,          // Args[0] ? Args[1] : Args[2]
        MultiplyAdd,     // Args[0]·Args[1] + Args[2] rounded once (a fused multiply-add), e.g. v − ḡ² as MultiplyAdd(−ḡ, ḡ, v)
    }

    /// <summary>An expression node (immutable, compared by value).</summary>
    internal sealed record Expr(ExprOp Op, double Value, string Name, EquatableArray<Expr> Args)
    {
        public static Expr Constant(double value) => new(ExprOp.Constant, value, string.Empty, EquatableArray<Expr>.Empty);

        public static Expr Hyperparameter(string name) => Leaf(ExprOp.Hyperparameter, name);

        public static Expr Step() => Leaf(ExprOp.StepNumber, string.Empty);

        public static Expr RuntimeInput(string name) => Leaf(ExprOp.RuntimeInput, name);

        public static Expr Host(string name) => Leaf(ExprOp.HostValue, name);

        public static Expr HostStateValue(string name) => Leaf(ExprOp.HostState, name);

        public static Expr Scalar(string name) => Leaf(ExprOp.Scalar, name);

        public static Expr Var(string name) => Leaf(ExprOp.Variable, name);

        public static Expr Unary(ExprOp op, Expr a) => new(op, 0, string.Empty, new EquatableArray<Expr>(new[] { a }));

        public static Expr Binary(ExprOp op, Expr a, Expr b) => new(op, 0, string.Empty, new EquatableArray<Expr>(new[] { a, b }));

        public static Expr Select(Expr condition, Expr whenTrue, Expr whenFalse) =>
            new(ExprOp.Select, 0, string.Empty, new EquatableArray<Expr>(new[] { condition, whenTrue, whenFalse }));

        /// <summary>a·b + c rounded once (<see cref="ExprOp.MultiplyAdd"/>): to subtract a product exactly, negate a factor, MultiplyAdd(−a, b, c).</summary>
        public static Expr MultiplyAdd(Expr a, Expr b, Expr c) =>
            new(ExprOp.MultiplyAdd, 0, string.Empty, new EquatableArray<Expr>(new[] { a, b, c }));

        /// <summary>
        /// The same number written with a rounded product: a·b + c for MultiplyAdd(a, b, c), and c − x·b for
        /// MultiplyAdd(−x, b, c) (any other node: itself). The printers people read and the frozen canonical form
        /// write a fused multiply-add this way, so it reads as its math and a rule that switched to it keeps its id.
        /// </summary>
        public static Expr Unfused(Expr e) =>
            e.Op != ExprOp.MultiplyAdd ? e
            : e.Args[0].Op == ExprOp.Negate ? e.Args[2] - (e.Args[0].Args[0] * e.Args[1])
            : (e.Args[0] * e.Args[1]) + e.Args[2];

        public static Expr operator +(Expr a, Expr b) => Binary(ExprOp.Add, a, b);

        public static Expr operator -(Expr a, Expr b) => Binary(ExprOp.Subtract, a, b);

        public static Expr operator *(Expr a, Expr b) => Binary(ExprOp.Multiply, a, b);

        public static Expr operator /(Expr a, Expr b) => Binary(ExprOp.Divide, a, b);

        public static Expr operator -(Expr a) => Unary(ExprOp.Negate, a);

        /// <summary>Whether <paramref name="op"/> compares its two operands (&lt;, ≤, &gt;, ≥, =, ≠): a condition, not a number.</summary>
        public static bool IsComparison(ExprOp op) =>
            op is ExprOp.Less or ExprOp.LessOrEqual or ExprOp.Greater or ExprOp.GreaterOrEqual or ExprOp.Equal or ExprOp.NotEqual;

        /// <summary>Whether <paramref name="e"/> draws a random number (<c>randn()</c>, <c>rand()</c>) anywhere in it.</summary>
        public static bool Draws(Expr e) => e.Op is ExprOp.RandomNormal or ExprOp.RandomUniform || e.Args.Any(Draws);

        /// <summary>Whether <paramref name="e"/> has the same value for every element: it reads no per-element variable and draws no random number.</summary>
        public static bool IsUniform(Expr e) => e.Op is not (ExprOp.Variable or ExprOp.RandomNormal or ExprOp.RandomUniform) && e.Args.All(IsUniform);

        private static Expr Leaf(ExprOp op, string name) => new(op, 0, name, EquatableArray<Expr>.Empty);
    }

    /// <summary>A hyperparameter: a settable property of the optimizer, stored as a double.</summary>
    /// <param name="Name">Property name.</param>
    /// <param name="Symbol">Symbol in the rule (η, β₁, …).</param>
    /// <param name="DefaultValue">Declared default.</param>
    /// <param name="Range">The values it accepts.</param>
    /// <param name="IsBoolean">Exposed as a bool property (0 or 1).</param>
    /// <param name="Summary">One line for the property's documentation.</param>
    internal sealed record HyperparameterDecl(string Name, string Symbol, double DefaultValue, HyperparameterRange Range, bool IsBoolean, string Summary);

    /// <summary>A per-element state buffer.</summary>
    /// <param name="Name">Property name (e.g. FirstMoment).</param>
    /// <param name="Symbol">Identifier in the kernel (e.g. m).</param>
    /// <param name="InitialValue">The hyperparameter holding its initial value, or empty for zero.</param>
    /// <param name="Summary">One line for the documentation.</param>
    internal sealed record StateDecl(string Name, string Symbol, string InitialValue, string Summary);

    /// <summary>
    /// A scalar the optimizer carries from step to step on the host (in double), e.g. NAdam's product Πₜ of μₜ.
    /// Once per step, before the kernel scalars are computed, it becomes <paramref name="Advance"/> evaluated with
    /// the previous value (its <see cref="ExprOp.HostState"/> leaf), the hyperparameters and t. Reset restores
    /// <paramref name="InitialValue"/>.
    /// </summary>
    /// <param name="Name">Property name (e.g. MuProduct).</param>
    /// <param name="Symbol">Symbol in the rule (e.g. Π).</param>
    /// <param name="InitialValue">The value before step 1.</param>
    /// <param name="Advance">The value after step t, from the value after step t − 1.</param>
    /// <param name="Summary">One line for the documentation.</param>
    internal sealed record HostStateDecl(string Name, string Symbol, double InitialValue, Expr Advance, string Summary);

    /// <summary>A host statement: <c>double Name = Value;</c>, once per step.</summary>
    /// <param name="IsKernelScalar">Passed to the kernel as a float32 field named <paramref name="Name"/>.</param>
    /// <param name="Comment">
    /// <paramref name="Value"/> in math notation, for the documentation. Front ends pass it empty: the IR post-pass
    /// (<see cref="Ir.PostPass"/>) prints it from the value, so it cannot disagree with the code.
    /// </param>
    internal sealed record HostStatement(string Name, Expr Value, bool IsKernelScalar, string Comment)
    {
        /// <summary>How the documentation writes this value (ρₜ, c₁, …) where other formulas use it; empty: by name.</summary>
        public string Symbol { get; init; } = string.Empty;
    }

    /// <summary>An element statement: a new float32 local, or an overwrite of p or a state buffer.</summary>
    /// <param name="Comment">
    /// The comment over the statement in the kernel: for attribute rules a label and the statement printed from
    /// <paramref name="Value"/> (<see cref="Ir.ProgramBuilder.Assign"/>); for expression rules the line as written.
    /// </param>
    internal sealed record ElementStatement(string Target, Expr Value, bool DeclaresLocal, string Comment);

    /// <summary>The lowered rule.</summary>
    /// <param name="Hyperparameters">Settable hyperparameters, in storage order.</param>
    /// <param name="States">Per-element state buffers, in storage order.</param>
    /// <param name="Host">Per-step host statements.</param>
    /// <param name="Body">Per-element statements.</param>
    /// <param name="RuleMath">
    /// The rule in math notation, one line each, for documentation: printed from the program by the post-pass
    /// (<see cref="Ir.RuleText"/>) for attribute rules; the declared statements as written for expression rules.
    /// </param>
    internal sealed record UpdateProgram(
        EquatableArray<HyperparameterDecl> Hyperparameters,
        EquatableArray<StateDecl> States,
        EquatableArray<HostStatement> Host,
        EquatableArray<ElementStatement> Body,
        EquatableArray<string> RuleMath)
    {
        /// <summary>Scalars carried from step to step on the host, in storage order (empty for most rules).</summary>
        public EquatableArray<HostStateDecl> HostStates { get; init; } = EquatableArray<HostStateDecl>.Empty;

        /// <summary>The tensor reductions of an expression rule (<see cref="Ir.ReductionDecl"/>); empty for an element-wise rule.</summary>
        public EquatableArray<Ir.ReductionDecl> Reductions { get; init; } = EquatableArray<Ir.ReductionDecl>.Empty;

        /// <summary>The kernel scalars, in field order.</summary>
        public EquatableArray<HostStatement> KernelScalars => System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Where(Host, h => h.IsKernelScalar)).ToEquatableArray();
    }

    /// <summary>What the emitters need for one optimizer: its declaration, the lowered program and the kernel it uses.</summary>
    internal sealed record OptimizerModel(TypeDeclarationInfo Type, string RuleName, UpdateProgram Program, KernelModel Kernel, string RuleId)
    {
        /// <summary>The declaration's state storage ([DefaultStatePrecision], [NonNegativeState]).</summary>
        public StateStorageSpec Storage { get; init; } = StateStorageSpec.Default;
    }

    /// <summary>
    /// The per-element half of a program, which alone decides the emitted kernel struct: two optimizers whose
    /// kernels are structurally equal (everything but <paramref name="Name"/>) share one struct. The front ends set
    /// <paramref name="Name"/> to a hash of the rest; <see cref="OutputNames"/> keeps it unless two different kernels
    /// share it, and then appends _2, _3, ….
    /// </summary>
    /// <param name="StateSymbols">The state buffers' identifiers, in storage order.</param>
    /// <param name="ScalarNames">The kernel's float32 fields, in order.</param>
    /// <param name="Body">Per-element statements.</param>
    /// <param name="BytesRead">Bytes read per element with float32 storage.</param>
    /// <param name="BytesWritten">Bytes written per element with float32 storage.</param>
    internal sealed record KernelModel(
        string Name,
        EquatableArray<string> StateSymbols,
        EquatableArray<string> ScalarNames,
        EquatableArray<ElementStatement> Body,
        int BytesRead,
        int BytesWritten)
    {
        /// <summary>The read-only per-element inputs beside g the body reads (<see cref="Ir.ElementInputs"/>), in table order; empty for most rules.</summary>
        public EquatableArray<string> Inputs { get; init; } = EquatableArray<string>.Empty;

        /// <summary>The passes of a rule with reductions (<see cref="Ir.PassPlanner"/>); null for the one fused pass of an element-wise rule.</summary>
        public Ir.PassPlan? Passes { get; init; }
    }
}
