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
    }
}
