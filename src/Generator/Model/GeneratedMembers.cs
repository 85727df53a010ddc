namespace OptGen.Generator.Model
{
    /// <summary>
    /// The members the emitters add to every optimizer class besides its hyperparameter and state properties: the one
    /// list the front ends check user declarations against (a user member or a declared name equal to one of these
    /// would not compile in the generated partial class).
    /// </summary>
    internal static class GeneratedMembers
    {
        /// <summary>The members every generated optimizer gets (the descriptor, the kernel factory, the engine's overrides).</summary>
        public static readonly string[] EveryOptimizer = { "CreateKernel", "RuleDescriptor", "RunKernel", "ValidateStepScalars", "AdvanceHostState" };

        /// <summary>
        /// The members a rule with reductions gets besides <see cref="EveryOptimizer"/> (CpuEmitter.Passes and
        /// CpuEmitter.Scopes): the pass tables and the overrides of OptGen.ReductionOptimizer's pass methods.
        /// </summary>
        public static readonly string[] ReductionOptimizer = { "RulePasses", "RuleReductions", "RuleScopes", "RuleStateScopes", "Reduce", "Update", "ReduceRuns", "UpdateRuns", "UpdateSegments" };

        /// <summary>
        /// The inherited OptGen.Optimizer members the generated class calls by their simple name (the properties'
        /// accessors, the constructors): a user member of the same name, even an overload or one declared <c>new</c>,
        /// would be called instead or break the call.
        /// </summary>
        public static readonly string[] CalledByName = { "GetHyperparameter", "SetHyperparameter", "GetState", "GetHostState", "ChangeStatePrecision" };

        /// <summary>
        /// The members of System.Object (and System.ValueType): a generated property or a kernel field of one of these
        /// names would hide them (CS0108/CS0114 inside generated code).
        /// </summary>
        public static readonly string[] ObjectMembers = { "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "ReferenceEquals", "Finalize" };

        /// <summary>
        /// The namespaces generated code names with <c>global::</c>: a type declared with one of these full names hides
        /// the namespace in every generated file (CS0437, then errors).
        /// </summary>
        public static readonly string[] Namespaces =
        {
            "System", "System.Runtime", "System.Runtime.Intrinsics", "System.Runtime.CompilerServices", "System.CodeDom", "System.CodeDom.Compiler",
            "OptGen", "OptGen.Kernels", "OptGen.Generated", "OptGen.Gpu", "ILGPU", "ILGPU.Runtime",
        };
    }
}
